"""Fixtures the benchmark tests share."""

from __future__ import annotations

from pathlib import Path

import pytest

from genplay.core import datasets


@pytest.fixture
def only_data_root(monkeypatch):
    """Datasets come from the test's --data-root only, never from the machine's copies."""
    monkeypatch.setattr(datasets, "search_places",
                        lambda name, root=None: [Path(root), Path(root) / name])

"""Small immutable messages that long-running core generators yield.

They carry numbers and numpy arrays only (never tensors), so the GUI engine can
pass them across threads and the CLI can print them.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Progress:
    step: int
    total: int | None  # None when the budget is a time
    epoch: int = 0  # training: epochs completed (the one in progress is epoch + 1)
    losses: dict[str, float] = field(default_factory=dict)
    images_per_s: float = 0.0
    eta_s: float | None = None
    message: str = ""


@dataclass(frozen=True)
class Preview:
    step: int
    images: np.ndarray  # uint8 (N, H, W, C)


@dataclass(frozen=True)
class Partial:
    """Part of the result, ready before the rest (e.g. the scores of the first files),
    so a long job can fill a table as it goes; the final Result still follows."""

    value: Any


@dataclass(frozen=True)
class Validation:
    epoch: int
    step: int
    metrics: dict[str, float]


@dataclass(frozen=True)
class Saved:
    step: int
    path: Path


@dataclass(frozen=True)
class Result:
    value: Any
    summary: dict[str, Any] = field(default_factory=dict)


def final_value(events: Iterator[Any]) -> Any:
    """Runs a generator of events to its end and returns its Result's value."""
    value, seen = None, False
    for event in events:
        if isinstance(event, Result):
            value, seen = event.value, True
    if not seen:
        raise RuntimeError("the generator ended without a Result")
    return value


def relay(events: Iterator[Any]) -> Generator[Any, None, Result]:
    """Passes a generator's events on up to its Result, and returns that Result:
    ``result = yield from relay(inner)`` inside another generator of events."""
    for event in events:
        if isinstance(event, Result):
            return event
        yield event
    raise RuntimeError("the generator ended without a Result")

"""The held-out emoji style (EmojiOne 2) on a tiny package laid out as npm ships it: a
test split only, its own eight categories, skin tones, modifiers and regional letters
left out, no SVG renderer needed, downloaded with its sha256 checked, and refused as
training data with one line."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import sys
import tarfile
import threading
from pathlib import Path

import pytest

from genplay.core import data, datasets, emoji
from genplay.core.errors import DatasetError
from tests.core.test_emoji import _png, _result

# EmojiOne's emoji.json: shortname -> row; "unicode" names the PNG in assets/png/
ROWS = {"grinning": ("1f600", "people"), "wave": ("1f44b", "people"),
        "wave_tone3": ("1f44b-1f3fd", "people"), "tone3": ("1f3fd", "modifier"),
        "regional_indicator_a": ("1f1e6", "regional"), "apple": ("1f34e", "food"),
        "flag_ca": ("1f1e8-1f1e6", "flags")}


def make_emojione(folder: Path) -> bytes:
    """The package as npm packs it (package/...): its tarball's bytes."""
    root = folder / "src"
    (root / "assets" / "png").mkdir(parents=True)
    (root / "package.json").write_text(json.dumps({"name": "emojione", "version": "2.2.7"}))
    (root / "emoji.json").write_text(json.dumps({
        name: {"unicode": code, "category": category, "name": name.replace("_", " ")}
        for name, (code, category) in ROWS.items()}))
    for i, (code, _) in enumerate(ROWS.values()):
        _png(root / "assets" / "png" / f"{code}.png", (30 * i, 100, 0))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(root, arcname="package")
    return buffer.getvalue()


@pytest.fixture
def emojione_publisher(tmp_path, monkeypatch, no_datasets):
    """The tiny package served at its npm path, in the catalogue's place."""
    from tests.served_data import DataServer

    tarball = make_emojione(tmp_path)
    spec = datasets.CATALOGUE["emojione"]
    files = (dataclasses.replace(spec.files[0], size=len(tarball),
                                 sha256=hashlib.sha256(tarball).hexdigest()),)
    monkeypatch.setitem(datasets.CATALOGUE, "emojione", dataclasses.replace(spec, files=files))
    server = DataServer({files[0].url_path: tarball})
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    yield server, tarball
    server.shutdown()
    server.server_close()


def test_a_test_split_only_in_its_own_categories_without_tones(emojione_publisher,
                                                                no_datasets, monkeypatch):
    server, _ = emojione_publisher
    monkeypatch.setitem(sys.modules, "resvg_py", None)  # PNGs only: no renderer needed
    with pytest.raises(DatasetError, match="wrong checksum"):
        _result(datasets.download("emojione", sources=[server.url + "/bad/"]))
    result = _result(datasets.download("emojione", sources=[server.url + "/good/"]))
    folder = no_datasets / "emojione"
    assert result.value == folder and result.summary["counts"] == (0, 4)
    assert not emoji.has_split(folder, "train")
    test = data.load_dataset("emojione", "test", size=32, channels=3)
    assert test.images.shape == (4, 3, 32, 32)
    assert test.class_names == list(emoji.EMOJIONE_CATEGORIES)
    assert sorted(test.class_names[c] for c in test.labels.tolist()) == [
        "flags", "food", "people", "people"]
    assert set(test.extra_names["emoji"]) == {"1F600", "1F44B", "1F34E", "1F1E8-1F1E6"}
    assert test.extra_names["style"] == ["emojione"]
    status = datasets.verify("emojione")
    assert status.counts == (0, 4) and status.problem is None
    assert "emojione" in data.dataset_names()
    assert "emojione" not in data.dataset_names(training=True)
    with pytest.raises(DatasetError) as caught:
        data.load_dataset("emojione", "train", size=32, channels=3)
    assert "has no train split" in str(caught.value) and "\n" not in str(caught.value)


def test_imported_from_a_folder_holding_its_tarball(tmp_path, no_datasets):
    source = tmp_path / "copy"
    source.mkdir()
    (source / emoji.EMOJIONE.file).write_bytes(make_emojione(tmp_path))
    result = _result(datasets.import_copy("emojione", source))
    assert result.summary["counts"] == (0, 4)
    assert not result.summary["published"]  # not the published tarball's sha256
    assert len(data.load_dataset("emojione", "test", size=64, channels=3)) == 4

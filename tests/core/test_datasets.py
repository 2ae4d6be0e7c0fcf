"""Getting datasets: download from a local HTTP server (never the network), resume, checksum
and HTTP failures, offline, import of a folder or archive, verify."""

from __future__ import annotations

import shutil
import socket
import tarfile
import zipfile
from pathlib import Path

import pytest

from genplay.core import data, datasets
from genplay.core.errors import DatasetError
from genplay.core.events import Progress, Result
from tests.conftest import make_idx_dataset
from tests.served_data import NAME


def _run(events):
    progress, result = [], None
    for event in events:
        if isinstance(event, Progress):
            progress.append(event)
        elif isinstance(event, Result):
            result = event
    return progress, result


def test_download_verifies_and_places_the_files(published, no_datasets):
    server, folder = published
    progress, result = _run(datasets.download(NAME, sources=[server.url + "/good/"]))
    assert result.value == no_datasets / NAME and not result.summary["already"]
    assert sorted(p.name for p in result.value.iterdir()) == sorted(p.name for p in
                                                                   folder.iterdir())
    steps = [p.step for p in progress]
    assert steps == sorted(steps) and steps[-1] == progress[-1].total == sum(
        f.size for f in datasets.CATALOGUE[NAME].files)
    assert not (no_datasets / f".{NAME}.download").exists()
    assert len(data.load_dataset(NAME, "train")) == 24
    status = datasets.verify(NAME)
    assert status.published and status.counts == (24, 8) and status.problem is None
    # a second get has nothing to do
    _, again = _run(datasets.download(NAME, sources=[server.url + "/good/"]))
    assert again.summary["already"] and len(server.requests) == 4


def test_a_failing_source_gives_way_to_the_next(published):
    server, _ = published
    _, result = _run(datasets.download(NAME, sources=[server.url + "/gone/",
                                                      server.url + "/good/"]))
    assert datasets.verify(NAME).published
    assert [p for p, _ in server.requests if p.startswith("/gone/")]


def test_a_wrong_checksum_places_nothing_and_keeps_nothing(published, no_datasets):
    server, _ = published
    with pytest.raises(DatasetError, match=r"could not download .*: 127\.0\.0\.1:\d+: "
                                           "wrong checksum$"):
        _run(datasets.download(NAME, sources=[server.url + "/bad/"]))
    assert datasets.locate(NAME) is None and not (no_datasets / NAME).exists()
    assert not any((no_datasets / f".{NAME}.download").glob("*"))


def test_a_404_from_every_source_is_one_line(published):
    server, _ = published
    with pytest.raises(DatasetError) as caught:
        _run(datasets.download(NAME, sources=[server.url + "/gone/"]))
    assert "HTTP 404" in str(caught.value) and "\n" not in str(caught.value)


def test_a_dropped_connection_is_resumed_with_a_range_request(published):
    server, folder = published
    _run(datasets.download(NAME, sources=[server.url + "/drop/"], retry_wait=0))
    assert datasets.verify(NAME).published
    ranges = [r for p, r in server.requests if r]
    assert len(ranges) == 4 and all(int(r[6:-1]) > 0 for r in ranges)  # each from its half


def test_a_cancelled_download_resumes_where_it_stopped(published, no_datasets):
    server, folder = published
    events = datasets.download(NAME, sources=[server.url + "/good/"])
    for event in events:
        if isinstance(event, Progress) and event.step > 0:
            break
    events.close()  # what Cancel does
    assert datasets.locate(NAME) is None  # nothing placed
    kept = list((no_datasets / f".{NAME}.download").iterdir())
    assert kept
    _run(datasets.download(NAME, sources=[server.url + "/good/"]))
    assert datasets.verify(NAME).published


def test_offline_is_one_line_that_names_the_way_out(published):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DatasetError) as caught:
        _run(datasets.download(NAME, sources=[f"http://127.0.0.1:{port}/"], timeout=2))
    message = str(caught.value)
    assert message.startswith(f"cannot reach any source of {NAME}") and "\n" not in message
    assert f"genplay data get {NAME} --from PATH" in message


@pytest.mark.parametrize("layout", ["folder", "debian", "torchvision", "raw", "tar.gz", "zip"])
def test_import_a_copy(published, tmp_path, no_datasets, layout):
    _, folder = published
    copy = tmp_path / "copy"
    if layout == "folder":
        source = shutil.copytree(folder, copy / "my files")
    elif layout == "debian":  # pointed at the parent of /usr/share/datasets/NAME
        shutil.copytree(folder, copy / "usr" / "share" / "datasets" / NAME)
        source = copy
    elif layout == "torchvision":
        shutil.copytree(folder, copy / "MNIST" / "raw")
        source = copy
    elif layout == "raw":  # uncompressed, as some tools keep them
        import gzip

        copy.mkdir()
        for p in folder.iterdir():
            (copy / p.stem).write_bytes(gzip.decompress(p.read_bytes()))
        source = copy
    else:
        copy.mkdir()
        source = copy / f"mnist.{layout}"
        if layout == "zip":
            with zipfile.ZipFile(source, "w") as z:
                for p in folder.iterdir():
                    z.write(p, f"mnist/{p.name}")
        else:
            with tarfile.open(source, "w:gz") as t:
                for p in folder.iterdir():
                    t.add(p, f"deep/mnist/{p.name}")
    _, result = _run(datasets.import_copy(NAME, source))
    assert result.value == no_datasets / NAME and result.summary["counts"] == (24, 8)
    # a copy compressed again is not the published file, unless its content MD5 is known
    assert result.summary["published"] is (layout != "raw")
    assert len(data.load_dataset(NAME, "test")) == 8
    assert not (no_datasets / f".{NAME}.import").exists()


def test_import_checks_before_writing_and_never_overwrites_unasked(published, tmp_path,
                                                                   no_datasets):
    _, folder = published
    broken = shutil.copytree(folder, tmp_path / "broken")
    (broken / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8bnot gzip at all")
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte.gz: a damaged gzip file"):
        _run(datasets.import_copy(NAME, broken))
    assert not (no_datasets / NAME).exists()

    other = make_idx_dataset(tmp_path / "other", n_train=12, n_test=4, seed=9)
    _run(datasets.import_copy(NAME, folder))
    with pytest.raises(DatasetError, match="already holds mnist files; .* --force replaces"):
        _run(datasets.import_copy(NAME, other))
    assert datasets.verify(NAME).counts == (24, 8)
    _, result = _run(datasets.import_copy(NAME, other, force=True))
    assert not result.summary["published"] and datasets.verify(NAME).counts == (12, 4)


def test_import_refuses_what_is_not_the_dataset(published, tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DatasetError, match="neither a folder nor an archive"):
        _run(datasets.import_copy(NAME, tmp_path / "notes.txt"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no folder in it holds all of"):
        _run(datasets.import_copy(NAME, tmp_path / "empty"))
    (tmp_path / "x.zip").write_bytes(b"PK broken")
    with pytest.raises(DatasetError, match="not a readable archive|lacks"):
        _run(datasets.import_copy(NAME, tmp_path / "x.zip"))
    wrong = make_idx_dataset(tmp_path / "wrong", n_train=4, n_test=2)
    (wrong / "t10k-labels-idx1-ubyte.gz").unlink()
    shutil.copy(wrong / "train-labels-idx1-ubyte.gz", wrong / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(DatasetError, match="2 t10k images but 4 labels"):
        _run(datasets.import_copy(NAME, wrong))


def test_verify_finds_a_damaged_file(published):
    _, folder = published
    _run(datasets.import_copy(NAME, folder))
    images = datasets.data_home() / NAME / "train-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:-100])
    status = datasets.verify(NAME)
    assert status.problem and "train-images" in status.problem and status.counts is None


def test_fashion_mnist_copies_compressed_again_are_recognised():
    # Debian's package compresses the published data again: its content MD5 is what counts
    spec = datasets.CATALOGUE["fashion-mnist"]
    labels = next(f for f in spec.files if f.name.startswith("t10k-labels"))
    assert labels.content_md5 and labels.content_size == 10_008
    assert all(f.size > 0 and len(f.md5) == 32 for spec in datasets.CATALOGUE.values()
               for f in spec.files)


def test_the_data_home_is_genplay_data_or_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("GENPLAY_DATA", str(tmp_path / "mine"))
    assert datasets.data_home() == tmp_path / "mine"
    monkeypatch.delenv("GENPLAY_DATA")
    assert datasets.data_home() == Path.home() / ".genplay" / "data"

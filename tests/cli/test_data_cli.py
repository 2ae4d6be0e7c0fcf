"""genplay data list, get, verify, and what every command says of a missing dataset."""

from __future__ import annotations

import json

import pytest

from genplay.cli import main
from tests.served_data import NAME


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_list_get_from_a_mirror_then_verify(published, no_datasets, capsys):
    server, _ = published
    assert main(["data", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["datasets"]}
    assert not rows[NAME]["present"] and rows[NAME]["download_bytes"] > 0
    assert rows["fashion-mnist"]["licence"].startswith("MIT")

    assert main(["data", "get", NAME, "--mirror", server.url + "/good/"]) == 0
    out = capsys.readouterr().out
    assert f"{NAME}: downloaded into {no_datasets / NAME}" in out and "checksums verified" in out

    assert main(["data", "list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines()
               if line.startswith(NAME + " "))
    assert " yes " in row and str(no_datasets / NAME) in row

    assert main(["data", "verify", NAME]) == 0
    assert "ok, the published files: 24 training and 8 test images" in capsys.readouterr().out
    assert main(["data", "get", NAME, "--mirror", server.url + "/good/"]) == 0
    assert "already in" in capsys.readouterr().out


def test_get_from_a_copy_notes_one_that_is_not_published(published, tmp_path, capsys):
    from tests.conftest import make_idx_dataset

    own = make_idx_dataset(tmp_path / "my-mnist", n_train=10, n_test=5, seed=3)
    assert main(["data", "get", NAME, "--from", str(own)]) == 0
    captured = capsys.readouterr()
    assert "10 training and 5 test images" in captured.out
    assert "not the published" in captured.err
    assert main(["data", "get", NAME, "--from", str(own)]) == 2  # never overwritten unasked
    assert "--force replaces them" in capsys.readouterr().err


def test_verify_says_which_copy_is_broken(published, capsys):
    _, folder = published
    assert main(["data", "get", NAME, "--from", str(folder)]) == 0
    from genplay.core import datasets

    (datasets.data_home() / NAME / "t10k-images-idx3-ubyte.gz").write_bytes(b"garbage")
    capsys.readouterr()
    assert main(["data", "verify"]) == 1
    out = capsys.readouterr().out
    assert f"{NAME}: BROKEN" in out and "fashion-mnist: not here" in out


@pytest.mark.parametrize("argv", [
    ["data", "get", "photos"], ["data", "get", "nonsense"], ["data", "verify", NAME],
    ["data", "get", NAME, "--from", "/no/such/folder"],
    ["train", "vae", "--data", "fashion-mnist", "--epochs", "1", "--out", "{tmp}/run"],
    ["eval", "checkpoints/vae-mnist", "--dry-run"],
])
def test_mistakes_and_missing_datasets_are_one_line(no_datasets, tmp_path, capsys, argv):
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = _lines(capsys.readouterr().err)
    assert len(err) == 1 and ": error: " in err[0]
    if argv[0] in ("train", "eval") or argv[-1] == NAME:
        assert "is not on this computer; get it with 'genplay data get" in err[0]

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


def test_emoji_get_from_the_packages_list_with_credits_and_verify(tmp_path, no_datasets,
                                                                  capsys):
    from tests.core.test_emoji import make_packages

    packages = make_packages(tmp_path / "emoji")
    assert main(["data", "list", "--json"]) == 0
    row = {r["name"]: r for r in json.loads(capsys.readouterr().out)["datasets"]}["emoji"]
    assert not row["present"] and row["download_bytes"] > 100e6
    assert [c.split(":")[0] for c in row["credits"]] == ["Twemoji", "Noto Emoji", "OpenMoji"]
    assert "CC BY-SA 4.0 (OpenMoji)" in row["licence"]

    assert main(["data", "get", "emoji", "--from", str(packages)]) == 0
    captured = capsys.readouterr()
    assert f"emoji: 21 training and 13 test images built into {no_datasets / 'emoji'}" in (
        captured.out) and "not all the published" not in captured.err
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    listed = next(line for line in out.splitlines() if line.startswith("emoji "))
    assert " yes " in listed and " kB" in listed and "Apache 2.0 (Noto)" in listed
    assert "emoji: Twemoji: CC BY 4.0 (Twitter, Inc. and other contributors)" in out
    assert "emoji: OpenMoji: CC BY-SA 4.0" in out
    assert main(["data", "verify", "emoji"]) == 0
    assert ("emoji: ok, built from the published packages: 21 training and 13 test images"
            in capsys.readouterr().out)
    assert main(["data", "get", "emoji", "--from", str(packages)]) == 2
    assert "--force replaces them" in capsys.readouterr().err


def test_emoji_from_a_mirror_of_the_publishers(tmp_path, no_datasets, monkeypatch, capsys):
    from tests.core.test_emoji import make_packages, publish

    server = publish(make_packages(tmp_path / "emoji"), tmp_path / "tarballs", monkeypatch)
    try:
        assert main(["data", "get", "emoji", "--mirror", server.url + "/good/"]) == 0
    finally:
        server.shutdown()
        server.server_close()
    out = capsys.readouterr().out
    assert "emoji: its 3 packages downloaded" in out and "checksums verified" in out
    assert "21 training and 13 test images built" in out


def test_emoji_without_the_svg_renderer_says_how_in_one_line(tmp_path, no_datasets,
                                                            monkeypatch, capsys):
    import sys

    from tests.core.test_emoji import make_packages

    monkeypatch.setitem(sys.modules, "resvg_py", None)  # as if not installed
    assert main(["data", "get", "emoji", "--from",
                 str(make_packages(tmp_path / "emoji"))]) == 2
    err = _lines(capsys.readouterr().err)
    assert len(err) == 1 and "pip install 'genplay[emoji]'" in err[0]

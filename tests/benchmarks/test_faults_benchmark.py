"""The reliability benchmark's own pieces: its corpus and how it judges a run."""

from __future__ import annotations

import os

from benchmarks import faults


def test_the_corpus_holds_odd_files_and_the_judge_sees_lost_data(tmp_path):
    corpus = dict(faults.build_corpus(tmp_path / "corpus"))
    assert {"empty.png", "bomb-30000x30000.png", "folder.png", "missing.png"} <= set(corpus)
    if hasattr(os, "mkfifo"):
        assert (tmp_path / "corpus" / "fifo.png").is_fifo()
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    victim = tmp_path / "corpus" / "good-digit.png"
    # a run is judged by what it said and by the fingerprint of the user's files
    cell = faults.run_cell(["--version"], 60, tmp_path / "corpus", env)
    assert cell["outcome"] == "handled" and cell["code"] == 0
    before = faults._fingerprint(tmp_path / "corpus")
    victim.write_bytes(b"changed")
    assert faults._fingerprint(tmp_path / "corpus") != before
    rows = {"a": {"x": {"outcome": "handled"}, "y": {"outcome": "hang"}}}
    assert faults.tally(rows) == {"handled": 1, "hang": 1}
    assert "| a | ok | HANG |" in faults.matrix_text("t", rows)

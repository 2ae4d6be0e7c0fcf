"""How genplay's modules lean on each other, beyond what lint-imports checks (pyproject's
import-linter contracts): what a fresh process loads for the window and for the command
line, that the pure figures stay pure, and that the core's parts form no import cycle."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import grimp


def loaded_after(code: str) -> set[str]:
    """The modules a fresh Python process holds after running code."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_the_window_module_imports_no_torch():
    """The window appears in about a second because torch (seconds to import) is loaded
    by the engine thread with the first model, never by importing the window."""
    loaded = loaded_after("import genplay.gui.main_window")
    assert "genplay.gui.main_window" in loaded
    assert "torch" not in loaded


def test_the_command_lines_help_imports_no_torch():
    """`genplay --help` (and so every command's parser) answers without loading torch:
    commands import the core inside the function that runs them."""
    loaded = loaded_after(
        "from genplay.__main__ import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass")
    assert "genplay.cli" in loaded
    assert "torch" not in loaded


def test_the_pure_figures_need_numpy_only():
    """core.metrics (FID, KID, PSNR, SSIM) is numpy arithmetic: no torch, no models, no
    ops; measuring a checkpoint with them is core.evaluation, above the ops."""
    loaded = loaded_after("import genplay.core.metrics")
    assert "torch" not in loaded
    assert {m for m in loaded if m.startswith("genplay")} == {
        "genplay", "genplay.core", "genplay.core.errors", "genplay.core.metrics"}


def test_the_cores_parts_form_no_import_cycle():
    """Between genplay.core's modules and packages (models, ops counted whole), imports
    run one way. Imports made only for type checking are left out: they never run."""
    graph = grimp.build_graph("genplay", exclude_type_checking_imports=True, cache_dir=None)

    def part(module: str) -> str:
        return ".".join(module.split(".")[:3])

    parts = {part(m) for m in graph.find_descendants("genplay.core")}
    uses = {p: set() for p in parts}
    for module in graph.find_descendants("genplay.core"):
        for imported in graph.find_modules_directly_imported_by(module):
            if imported.startswith("genplay.core.") and part(imported) != part(module):
                uses[part(module)].add(part(imported))

    def reaches(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in uses[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    cycles = sorted(p for p in parts if p in reaches(p))
    assert cycles == []


def test_reading_outlier_scores_needs_no_torch():
    """The window moves the threshold line and exports tables in its own thread with these."""
    assert "torch" not in loaded_after("import genplay.core.ops.outlier_figures")

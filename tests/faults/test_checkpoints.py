"""Damaged checkpoints: each is refused in one line (CheckpointError; exit 2 from the CLI)
before anything it asks for is allocated, and nothing hangs. A broken metrics.json only
loses the metrics.

Every load and command runs in a thread joined with a time limit, so a regression that
blocks (a FIFO read) fails here instead of hanging the suite."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from genplay.cli import main
from genplay.core import checkpoints, registry
from genplay.core.errors import CheckpointError
from tests.conftest import TINY_CONFIGS
from tests.gui.conftest import settings, window  # noqa: F401  (fixtures of the GUI test)

LIMIT_S = 20.0
NAME = "vae-tiny"  # 1 channel of 8x8, latent_dim 4: every damage below applies to it
posix_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")


def within_limit(fn: Callable, *args) -> dict:
    """fn(*args) in a thread: {"value": ...} or {"error": ...}; fails if it takes LIMIT_S."""
    box: dict = {}

    def work() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001  (handed to the test)
            box["error"] = exc

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(LIMIT_S)
    assert not thread.is_alive(), f"{getattr(fn, '__name__', fn)}{args} hung"
    return box


class NoStop:
    """The Ctrl-C handler of eval sets a signal handler, which only the main thread may:
    in these threads Ctrl-C plays no part."""

    requested = False

    def __enter__(self) -> NoStop:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


@pytest.fixture(autouse=True)
def _eval_runs_in_a_thread(monkeypatch):
    from genplay.cli import evaluation

    monkeypatch.setattr(evaluation, "Stop", NoStop)


def genplay(capsys, *argv) -> tuple[int, str, str]:
    """genplay argv within LIMIT_S: (exit code, stdout, stderr)."""
    box = within_limit(main, [str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "error" not in box, f"genplay {argv} raised {box.get('error')!r}\n{err}"
    return box["value"], out, err


UNBLOCK = """
import os, sys, time
time.sleep(float(sys.argv[2]))
end = time.monotonic() + 60
while time.monotonic() < end:
    try:
        os.close(os.open(sys.argv[1], os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass
    time.sleep(0.05)
"""


@pytest.fixture
def unblock():
    """unblock(fifo): a process that, after LIMIT_S, keeps opening the FIFO for writing and
    closing it, so a reader stuck opening it gets end-of-file instead of hanging the suite.
    It must be another process: a C extension blocked in open() (safetensors) holds the
    GIL, which stops every thread of this one, the time limit's included."""
    procs: list[subprocess.Popen] = []

    def start(path: Path) -> None:
        procs.append(subprocess.Popen([sys.executable, "-c", UNBLOCK, str(path), str(LIMIT_S)]))

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def rss() -> int:
    """Resident bytes of this process now (Linux); 0 where /proc is not there."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


@pytest.fixture
def copy(tiny_checkpoints, tmp_path) -> Callable[[str], Path]:
    """copy(name): a copy of a tiny checkpoint to damage (never the shared one)."""
    def make(name: str = NAME) -> Path:
        folder = tmp_path / name
        shutil.copytree(tiny_checkpoints / name, folder)
        (folder / checkpoints.METRICS_FILE).unlink(missing_ok=True)
        return folder
    return make


# --- the damages ------------------------------------------------------------------------------
def config_fields(**fields):
    def damage(folder: Path) -> None:
        path = folder / checkpoints.CONFIG_FILE
        data = json.loads(path.read_text())
        data["config"].update(fields)
        path.write_text(json.dumps(data))
    return damage


def config_top(**fields):
    def damage(folder: Path) -> None:
        path = folder / checkpoints.CONFIG_FILE
        path.write_text(json.dumps(json.loads(path.read_text()) | fields))
    return damage


def sparse_config(folder: Path) -> None:
    """A config.json of 100 MB (sparse: no disk used), valid JSON at its start."""
    with open(folder / checkpoints.CONFIG_FILE, "r+b") as f:
        f.truncate(100 << 20)


def weights(change: Callable[[torch.Tensor], torch.Tensor]):
    def damage(folder: Path) -> None:
        path = folder / checkpoints.WEIGHTS_FILE
        state = load_file(path)
        save_file({k: change(v) for k, v in state.items()}, path)
    return damage


def ff_block(folder: Path) -> None:
    """4 KB of 0xFF bytes written over the middle of the tensor data (the header, whose
    length is the file's first 8 bytes, stays intact): float32 0xFFFFFFFF is a NaN."""
    path = folder / checkpoints.WEIGHTS_FILE
    raw = bytearray(path.read_bytes())
    start = 8 + int.from_bytes(raw[:8], "little")
    assert len(raw) - start > 3 * 4096, "too little tensor data for the damage"
    middle = (start + len(raw)) // 2
    raw[middle - 2048:middle + 2048] = b"\xff" * 4096
    path.write_bytes(bytes(raw))


def truncated(folder: Path) -> None:
    path = folder / checkpoints.WEIGHTS_FILE
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])


def emptied(name: str):
    def damage(folder: Path) -> None:
        (folder / name).write_bytes(b"")
    return damage


def fifo(name: str):
    def damage(folder: Path) -> None:
        (folder / name).unlink(missing_ok=True)
        os.mkfifo(folder / name)
    return damage


def metrics_text(text: str):
    def damage(folder: Path) -> None:
        (folder / checkpoints.METRICS_FILE).write_text(text)
    return damage


FATAL = {  # damage -> what the one line says
    "channels huge": (config_fields(channels=10**12), "channels must be from 1 to 3"),
    "channels negative": (config_fields(channels=-3), "channels must be from 1 to 3"),
    "channels string": (config_fields(channels="3"), "channels must be a whole number"),
    "channels float": (config_fields(channels=1.0), "channels must be a whole number"),
    "channels bool": (config_fields(channels=True), "channels must be a whole number"),
    "latent_dim 250000": (config_fields(latent_dim=250_000),
                          "latent_dim must be from 1 to 4,096, not 250,000"),
    "image_shape mismatch": (config_top(image_shape=[3, 8, 8]),
                             "image_shape [3, 8, 8] disagrees with its config"),
    "image_shape not a list": (config_top(image_shape=5), "image_shape 5 disagrees"),
    "class_names not a list": (config_top(class_names=7), "class_names must be a list"),
    "config 100 MB": (sparse_config, "more than the 16 MB"),
    "config not an object": (lambda f: (f / "config.json").write_text("[1]"),
                             "expected a JSON object, not list"),
    "config nested deeply": (lambda f: (f / "config.json").write_text("[" * 100_000),
                             "unreadable JSON"),
    "weights all NaN": (weights(lambda t: torch.full_like(t, float("nan"))),
                        "are not numbers (NaN or infinite)"),
    "weights 4 KB of 0xFF": (ff_block, "are not numbers (NaN or infinite)"),
    "weights truncated": (truncated, "corrupt weights file"),
    "weights empty": (emptied(checkpoints.WEIGHTS_FILE), "corrupt weights file"),
    "config FIFO": (fifo(checkpoints.CONFIG_FILE), "not a regular file (a FIFO)"),
    "weights FIFO": (fifo(checkpoints.WEIGHTS_FILE), "not a regular file (a FIFO)"),
}
NEEDS_FIFO = {"config FIFO": checkpoints.CONFIG_FILE, "weights FIFO": checkpoints.WEIGHTS_FILE}
RUNNERS = ["load", "sample", "eval"]


def run_on(runner: str, folder: Path, capsys, tmp_path, features: Path) -> tuple[int, str]:
    """(2 and the message, or 0 and "") for the runner on folder; asserts one line."""
    if runner == "load":
        box = within_limit(checkpoints.load, folder)
        if "error" not in box:
            return 0, ""
        assert isinstance(box["error"], CheckpointError), repr(box["error"])
        return 2, str(box["error"])
    if runner == "sample":
        argv = ["sample", folder, "-n", 2, "-o", tmp_path / "grid.png"]
    else:
        argv = ["eval", folder, "--dry-run", "--limit", 8, "--samples", 8, "--features", features]
    code, _, err = genplay(capsys, *argv)
    assert "Traceback" not in err, err
    if code == 0:
        return 0, ""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"genplay {argv[0]}: error: "), err
    return code, lines[0]


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("damage", list(FATAL))
def test_a_damaged_checkpoint_is_refused_in_one_line(capsys, copy, tmp_path, tiny_checkpoints,
                                                     unblock, damage, runner):
    if damage in NEEDS_FIFO and not hasattr(os, "mkfifo"):
        pytest.skip("FIFOs are POSIX")
    folder = copy()
    make, message = FATAL[damage]
    make(folder)
    if damage in NEEDS_FIFO:
        unblock(folder / NEEDS_FIFO[damage])
    start = time.monotonic()
    code, line = run_on(runner, folder, capsys, tmp_path, tiny_checkpoints / "classifier-tiny")
    assert code == 2 and message in line, line
    assert "\n" not in line and str(folder) in line
    assert time.monotonic() - start < 10


def load_watching_memory(folder: Path) -> tuple[dict, float, int]:
    """checkpoints.load(folder) within LIMIT_S: (its box, seconds, peak growth of the
    resident size in bytes, sampled every 5 ms)."""
    before, peak, done = rss(), [0], threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss())
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    start = time.monotonic()
    try:
        box = within_limit(checkpoints.load, folder)
    finally:
        done.set()
        watcher.join()
    return box, time.monotonic() - start, max(peak[0], rss()) - before


def test_latent_dim_250000_is_refused_quickly_without_allocating(copy):
    """It grew the process to 9.4 GB before a shape error."""
    folder = copy()
    config_fields(latent_dim=250_000)(folder)
    box, seconds, growth = load_watching_memory(folder)
    assert isinstance(box.get("error"), CheckpointError), box
    assert "latent_dim must be from 1 to 4,096" in str(box["error"])
    assert seconds < 2 and growth < 200 << 20, (seconds, growth >> 20)


def test_a_model_too_big_for_the_machine_is_refused_before_it_is_built(copy, monkeypatch):
    """Within every bound (widths of 1024, a latent of 4096) a VAE needs 2.3 GB: on a
    machine of 4 GB it is refused from the estimate on the meta device alone, giving both
    figures, without allocating it."""
    folder = copy()
    config_fields(base_channels=1024, latent_dim=4096)(folder)
    monkeypatch.setattr(checkpoints, "machine_memory", lambda: 4 << 30)
    box, seconds, growth = load_watching_memory(folder)
    assert isinstance(box.get("error"), CheckpointError), box
    text = str(box["error"])
    assert "its model needs 2.3 GB for its parameters alone, more than 25% of this " \
           "computer's 4.0 GB of memory" in text and "\n" not in text, text
    assert seconds < 5 and growth < 200 << 20, (seconds, growth >> 20)


def test_machine_memory_is_known_here():
    memory = checkpoints.machine_memory()
    if hasattr(os, "sysconf") and Path("/proc").is_dir():  # Linux: always known
        assert memory is not None and 256 << 20 < memory < 1 << 50


@pytest.mark.parametrize("family", list(TINY_CONFIGS))
def test_the_estimate_is_the_size_of_the_model_built(tiny_checkpoints, family):
    info = checkpoints.read_info(tiny_checkpoints / f"{family}-tiny")
    model = checkpoints.build_model(info)
    real = sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])
    assert checkpoints.parameter_bytes(info) == real > 0


def test_the_estimate_fills_no_values_so_the_first_model_opens_quickly(tiny_checkpoints):
    """On the meta device nn.init.normal_ and torch.eye run PyTorch's Python references,
    whose first call imports torch._dynamo (seconds on a small CPU): the estimate skips
    them. A mode outside it sees what reaches the meta device."""
    from torch.overrides import TorchFunctionMode

    seen = []

    class Spy(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            seen.append(getattr(func, "__name__", str(func)))
            return func(*args, **(kwargs or {}))

    with Spy(), torch.device("meta"):  # what the estimate would do without skipping
        torch.nn.Embedding(3, 4)
        torch.eye(3)
    assert "normal_" in seen and "eye" in seen  # the spy sees them when nothing skips
    seen.clear()
    for family in ("diffusion", "vae", "flow"):
        info = checkpoints.read_info(tiny_checkpoints / f"{family}-tiny")
        with Spy():
            assert checkpoints.parameter_bytes(info) > 0
    assert seen and not {"normal_", "uniform_", "eye", "kaiming_uniform_"} & set(seen)


@pytest.mark.parametrize("family", list(TINY_CONFIGS))
def test_every_number_field_of_every_family_has_bounds_and_is_checked(family):
    """One place per family (Config.BOUNDS) bounds every int field; a value outside them,
    or of another type, is a one-line ValueError naming the field, before anything is
    built. A float field is refused when it is not a finite number."""
    config = registry.get(family).Config
    for field in dataclasses.fields(config):
        kind = str(field.type)
        if kind == "int":
            assert field.name in config.BOUNDS, f"{config.__name__}.{field.name} has no bounds"
            low, high = config.BOUNDS[field.name]
            wrong = [low - 1, high + 1, 10**30, str(low), float(low), True, None]
        elif kind == "float":
            wrong = [float("nan"), float("inf"), "0.5", True, None]
            if field.name in config.BOUNDS:
                low, high = config.BOUNDS[field.name]
                wrong += [low - 1.0, high + 1.0]
        else:
            continue
        for value in wrong:
            with pytest.raises(ValueError, match=rf"^{field.name} must be [^\n]*$"):
                config.from_dict({**TINY_CONFIGS[family], field.name: value})


@pytest.mark.parametrize("family,fields,message", [
    ("flow", {"n_scales": 3}, "n_scales 3 would squeeze 8x8 images down to 1x1; at most 2"),
    ("diffusion", {"attention_heads": 3}, "attention_heads (3) must divide"),
    ("classifier", {"dropout": 2.0}, "dropout must be from 0 to 1, not 2"),
    ("superres", {"scales": "24"}, "scales must be a list of 2, 3 or 4"),
])
def test_configs_that_would_fail_later_are_refused_at_load(copy, family, fields, message):
    """Each of these passed the old checks and then crashed sampling or construction."""
    folder = copy(f"{family}-tiny")
    config_fields(**fields)(folder)
    with pytest.raises(CheckpointError, match="invalid config") as caught:
        checkpoints.load(folder)
    assert message in str(caught.value)


BROKEN_METRICS = {
    "metrics not JSON": (metrics_text("{oops"), "unreadable JSON"),
    "metrics a list": (metrics_text("[1, 2]"), "expected a JSON object"),
    "metrics empty": (emptied(checkpoints.METRICS_FILE), "unreadable JSON"),
    "metrics FIFO": (fifo(checkpoints.METRICS_FILE), "not a regular file (a FIFO)"),
}


@pytest.mark.parametrize("damage", list(BROKEN_METRICS))
def test_a_broken_metrics_json_loses_only_the_metrics(capsys, copy, tmp_path, unblock, damage):
    if damage == "metrics FIFO" and not hasattr(os, "mkfifo"):
        pytest.skip("FIFOs are POSIX")
    folder = copy()
    make, message = BROKEN_METRICS[damage]
    make(folder)
    if damage == "metrics FIFO":
        unblock(folder / checkpoints.METRICS_FILE)
    box = within_limit(checkpoints.load, folder)
    assert "error" not in box, box
    info = box["value"][1]
    assert info.metrics == {} and message in info.metrics_error
    assert "\n" not in info.metrics_error
    assert checkpoints.scan(folder.parent)[0][0].name == folder.name
    code, out, err = genplay(capsys, "models", "--dir", folder.parent)
    assert code == 0 and folder.name in out and "UNREADABLE" not in out, err
    assert genplay(capsys, "sample", folder, "-n", 2, "-o", tmp_path / "grid.png")[0] == 0


def test_a_broken_metrics_json_does_not_stop_eval(capsys, copy, tiny_checkpoints):
    folder = copy()
    metrics_text("{oops")(folder)
    code, out, err = genplay(capsys, "eval", folder, "--dry-run", "--limit", 8, "--samples", 8,
                             "--features", tiny_checkpoints / "classifier-tiny")
    assert code == 0, err
    assert json.loads(out)["test_images"] == 8


@posix_only
def test_scan_lists_fifos_as_unreadable_without_opening_them(copy, unblock):
    folder = copy()
    fifo(checkpoints.WEIGHTS_FILE)(folder)
    other = copy("gan-tiny")
    fifo(checkpoints.CONFIG_FILE)(other)
    unblock(other / checkpoints.CONFIG_FILE)
    found, broken = within_limit(checkpoints.scan, folder.parent)["value"]
    assert found == []
    reasons = dict(broken)
    assert "not a regular file" in reasons[folder] and "a FIFO" in reasons[other]


# --- the app -------------------------------------------------------------------------------
def test_a_model_that_cannot_be_loaded_leaves_no_panel_loading(qtbot, window, copy):  # noqa: F811
    """Truncated weights: read_info succeeds (it reads no weights), so the model is listed
    and selected; its load fails in every panel's job. Each panel says it could not be
    loaded instead of "loading…" forever, and a good model works again afterwards."""
    folder = copy()
    truncated(folder)
    window.open_checkpoint(folder)
    sampling = window.sampling
    qtbot.waitUntil(lambda: window.current is not None and window.current.path == folder,
                    timeout=20000)
    qtbot.waitUntil(lambda: "could not be loaded" in sampling.model_label.text(),
                    timeout=20000)
    qtbot.waitUntil(lambda: not window.engine.is_busy(), timeout=20000)
    assert "loading" not in sampling.model_label.text()
    assert not sampling.generate_button.isEnabled()
    assert "corrupt weights file" in sampling.model_label.toolTip()
    assert "corrupt weights file" in window.messages.text()
    caps = window.current.capabilities
    gated = [(stack, panel, needs) for stack, panel, needs in window._stacks
             if panel.accepts(caps)]
    assert len(gated) >= 3  # sampling, latent, super-resolution (bicubic), outliers...
    for stack, panel, needs in gated:
        assert panel.info is None, panel.title
        if getattr(panel, "needs_model", True):
            assert stack.currentWidget() is needs, panel.title
            assert "could not be loaded" in needs.label.text(), panel.title
        else:  # bicubic upscaling needs no model: the panel stays usable
            assert stack.currentWidget() is panel, panel.title
    assert "could not be loaded" in window.model_list.currentItem().text()
    # a good model afterwards: its panels come back and work
    good = next(i.path for i in window.infos if i.name == NAME and i.path != folder)
    window.select_model(good)
    qtbot.waitUntil(sampling.generate_button.isEnabled, timeout=20000)
    assert window._stacks[0][0].currentWidget() is sampling
    assert "could not be loaded" not in sampling.model_label.text()

"""Before Qt opens a window: missing system libraries and a missing display are one line."""

from __future__ import annotations

import os
import subprocess
import sys

from genplay.gui.system import XCB_LIBRARIES, display_problem


def test_missing_xcb_libraries_are_named_as_packages_in_one_line():
    missing = {"libxcb-icccm.so.4", "libxcb-keysyms.so.1"}
    problem = display_problem({"DISPLAY": ":0"}, "linux", lambda so: so not in missing)
    assert "\n" not in problem
    assert "missing: libxcb-icccm4 libxcb-keysyms1 (" in problem
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1" in problem
    assert "QT_QPA_PLATFORM=offscreen" in problem


def test_nothing_is_said_where_qt_will_manage():
    everything = lambda so: True  # noqa: E731
    nothing = lambda so: False  # noqa: E731
    assert display_problem({"DISPLAY": ":0"}, "linux", everything) is None
    assert display_problem({"DISPLAY": ":0"}, "darwin", nothing) is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux", nothing) is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux", nothing) is None
    assert "DISPLAY is not set" in display_problem({}, "linux", everything)
    assert len(XCB_LIBRARIES) == len(set(XCB_LIBRARIES.values()))


def test_the_app_command_says_it_instead_of_aborting(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    done = subprocess.run([sys.executable, "-m", "genplay"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "genplay: no display to open a window on (DISPLAY is not set); start it from a "
        "desktop session, or QT_QPA_PLATFORM=offscreen runs it without a window"]

"""What the app needs of the system before Qt opens a window, said in one line.

On Linux, Qt's X11 platform plugin (xcb) loads a set of system libraries that a minimal
or server install lacks; Qt then aborts the process with a message of its own. genplay
looks for them first and names the missing packages (Debian/Ubuntu names), and says so
when there is no display at all. This module does not import Qt.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping

# The libraries Qt 6's xcb plugin links to that a system may lack -> their Debian package.
XCB_LIBRARIES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
}
NO_WINDOW = "QT_QPA_PLATFORM=offscreen runs it without a window"


def loadable(soname: str) -> bool:
    """Whether the dynamic loader finds a library, as Qt's plugin would."""
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def display_problem(environ: Mapping[str, str] | None = None, platform: str | None = None,
                    can_load: Callable[[str], bool] = loadable) -> str | None:
    """Why Qt could not open a window here, in one line; None when nothing is known to
    stop it (another platform, a platform plugin chosen, Wayland)."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux"):
        return None
    chosen = environ.get("QT_QPA_PLATFORM", "")
    if chosen and not chosen.startswith("xcb"):
        return None  # offscreen, wayland, vnc ...: the user picked it
    if not chosen and environ.get("WAYLAND_DISPLAY"):
        return None  # Qt uses Wayland there
    if not environ.get("DISPLAY"):
        return (f"genplay: no display to open a window on (DISPLAY is not set); start it "
                f"from a desktop session, or {NO_WINDOW}")
    missing = [package for soname, package in XCB_LIBRARIES.items() if not can_load(soname)]
    if not missing:
        return None
    packages = " ".join(missing)
    return (f"genplay: Qt needs system libraries that are missing: {packages} (Debian/Ubuntu: "
            f"sudo apt-get install {packages}; README.md lists them for other systems), "
            f"or {NO_WINDOW}")

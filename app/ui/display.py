"""Can a window be shown here? Answered before Qt is loaded, because Qt aborts the process
(not an exception) when it finds no display or misses an X library."""

from __future__ import annotations

import ctypes.util
import sys
from collections.abc import Mapping

HEADLESS_HINT = (
    "run it on a desktop or under a virtual display (`xvfb-run -a ledgerlab`), headless with "
    "QT_QPA_PLATFORM=offscreen (nothing is shown), or use the command line: `ledgerlab --help`"
)

# Qt's xcb platform plugin needs these beyond libxcb itself; its own error blames the
# wrong library, so name the Debian/Ubuntu packages here.
_XCB_LIBRARIES = {
    "xcb-cursor": "libxcb-cursor0",
    "xcb-icccm": "libxcb-icccm4",
    "xcb-keysyms": "libxcb-keysyms1",
}


def display_problem(environ: Mapping[str, str], platform: str = sys.platform) -> str | None:
    """A message for the person when no window can be opened; None when one can."""
    if not platform.startswith("linux"):
        return None
    qpa = environ.get("QT_QPA_PLATFORM", "")
    if qpa and not qpa.startswith("xcb"):
        return None  # offscreen, wayland, vnc …: the person chose
    if qpa.startswith("xcb") or not environ.get("WAYLAND_DISPLAY"):
        if not environ.get("DISPLAY"):
            return f"ledgerlab: no display found (DISPLAY is not set); {HEADLESS_HINT}"
        missing = [pkg for lib, pkg in _XCB_LIBRARIES.items() if ctypes.util.find_library(lib) is None]
        if missing:
            return (
                "ledgerlab: the X11 libraries Qt needs are missing; install them with "
                f"`sudo apt-get install {' '.join(missing)}`, or {HEADLESS_HINT}"
            )
    return None

"""`ledgerlab demo --screenshot` as a person runs it: a real process, a real window, a PNG."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from PySide6.QtGui import QImage

pytestmark = pytest.mark.slow


def run_demo(tmp_path, prefix: list[str], platform: str | None) -> subprocess.CompletedProcess:
    (tmp_path / "tmp").mkdir()
    env = {
        **os.environ,
        "LEDGERLAB_DATA_DIR": str(tmp_path / "data"),
        "LEDGERLAB_ANNOTATOR": "demo",
        "TMPDIR": str(tmp_path / "tmp"),
    }
    env.pop("QT_QPA_PLATFORM", None)
    if platform:
        env["QT_QPA_PLATFORM"] = platform
    shot = tmp_path / "shot.png"
    command = [
        *prefix,
        sys.executable,
        "-m",
        "app.cli",
        "demo",
        "--screenshot",
        str(shot),
        "--labels",
        "20",
        "--epochs",
        "1",
    ]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def check(result, tmp_path) -> None:
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "training completed" in result.stdout
    image = QImage(str(tmp_path / "shot.png"))
    assert not image.isNull() and image.width() >= 800 and image.height() >= 600
    # the throw-away project is gone with the demo (no 27 MB folder left in the temp folder)
    assert not [p.name for p in (tmp_path / "tmp").iterdir() if p.name.startswith("ledgerlab-demo-")]


def test_demo_offscreen_saves_a_screenshot(tmp_path, qapp):
    check(run_demo(tmp_path, [], "offscreen"), tmp_path)


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="Xvfb is not installed here")
def test_demo_under_xvfb_saves_a_screenshot(tmp_path, qapp):
    check(run_demo(tmp_path, ["xvfb-run", "-a"], "xcb"), tmp_path)


def test_demo_refuses_a_screenshot_folder_that_does_not_exist(tmp_path):
    env = {**os.environ, "LEDGERLAB_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "demo", "--screenshot", str(tmp_path / "no" / "shot.png")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 2
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr

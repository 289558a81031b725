"""`launch.py gui` headless: a screenshot after N frames, one clear line and exit status 1 for a bad source."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from PyQt6.QtGui import QImage

from tests.helpers import DEMO_LOOP, ROOT


def _launch(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, str(ROOT / "launch.py"), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_headless_screenshot_command(tiny_models, tmp_path):
    out = tmp_path / "shot.png"
    done = _launch("gui", "--source", str(DEMO_LOOP), "--segmentation", str(tiny_models[0]), "--method", str(tiny_models[1]),
                   "--screenshot", str(out), "--quit-after-frames", "3")
    assert done.returncode == 0, done.stderr
    image = QImage(str(out))
    assert not image.isNull() and image.width() >= 1200


def test_headless_run_on_a_missing_file_fails_with_one_message(tiny_models, tmp_path):
    done = _launch("gui", "--source", str(tmp_path / "nothing.mp4"), "--segmentation", str(tiny_models[0]),
                   "--method", str(tiny_models[1]), "--screenshot", str(tmp_path / "x.png"), "--quit-after-frames", "3")
    assert done.returncode == 1
    assert "nothing.mp4" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.skipif(not (ROOT / "models" / "camus_seg_lite" / "model.onnx").is_file(),
                    reason="the default segmentation model is not in models/")
def test_headless_screenshot_with_the_default_models(tmp_path):
    out = tmp_path / "shot.png"
    done = _launch("gui", "--screenshot", str(out), "--quit-after-frames", "2")
    assert done.returncode == 0, done.stderr
    assert not QImage(str(out)).isNull()

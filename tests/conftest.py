"""Shared fixtures: paths to the bundled and shared real data."""
from __future__ import annotations

import os
import select
import socket
import sys
import time
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import fast  # noqa: E402,F401  (FAST must be imported before PyQt6)

DEMO_LOOP = ROOT / "data" / "samples" / "e95_a4c.mp4"
SHARED_DATA = ROOT.parent / "shared" / "data"
CAMUS = SHARED_DATA / "camus_subset"


@pytest.fixture
def demo_loop() -> Path:
    return DEMO_LOOP


@pytest.fixture
def camus() -> Path:
    if not (CAMUS / "images").is_dir():
        pytest.skip("../shared/data/camus_subset is not present")
    return CAMUS


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> tuple[Path, Path]:
    """Folders of a tiny real segmentation model and a constant quality model (tests/onnx_models.py)."""
    from onnx_models import constant_quality, intensity_segmentation
    folder = tmp_path_factory.mktemp("models")
    intensity_segmentation(folder / "seg" / "model.onnx")
    constant_quality(folder / "quality" / "model.onnx")
    return folder / "seg", folder / "quality"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, timeout: float, step: float = 0.02) -> bool:
    """Poll condition() until it holds or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def wait_for_output(proc, word: str, timeout: float, what: str) -> float:
    """Read a child's stdout until a line contains `word`; the monotonic time it did."""
    deadline, seen = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        if select.select([proc.stdout], [], [], 0.2)[0]:
            line = proc.stdout.readline()
            seen.append(line)
            if word in line:
                return time.monotonic()
            if not line:
                break
    raise AssertionError(f"{what} did not start:\n" + "".join(seen))

"""Shared fixtures: paths to the bundled and shared real data."""
from __future__ import annotations

import os
import sys
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

"""Shared fixtures: the bundled and shared real data, tiny real models."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import fast  # noqa: E402,F401  (FAST must be imported before PyQt6)

from tests.helpers import CAMUS, DEMO_LOOP  # noqa: E402


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
    from tests.onnx_models import constant_quality, intensity_segmentation
    folder = tmp_path_factory.mktemp("models")
    intensity_segmentation(folder / "seg" / "model.onnx")
    constant_quality(folder / "quality" / "model.onnx")
    return folder / "seg", folder / "quality"

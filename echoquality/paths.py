"""Folders of the project checkout the package is run from (models, the bundled demo loop)."""
from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = PROJECT_ROOT / "models"
DEMO_LOOP = PROJECT_ROOT / "data" / "samples" / "e95_a4c.mp4"

"""What identifies one analysis: the content hash of a recording's files and the fingerprint of the models
and settings that analysed it. Same content + same fingerprint = same key = done once.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from echoquality.core.quality import DEFAULT_QUALITY_MODEL, PIXEL_METRIC_METHODS
from echoquality.inference.registry import DEFAULT_SEGMENTATION, resolve_model
from echoquality.paths import MODELS_DIR

FORMAT_VERSION = 1          # bump when the rows or the per-frame columns change meaning
_CHUNK = 1 << 20
MODEL_FILE_SUFFIXES = (".onnx", ".data", ".npy", ".bin", ".xml")   # weights, not cards or reports
MODEL_FILE_NAMES = ("maps.json",)                                 # the pixel metrics' linear maps


def content_hash(files: tuple[str, ...] | list[str]) -> str:
    """sha256 over the bytes of the files, in order (a numbered sequence hashes all its members)."""
    digest = hashlib.sha256()
    for name in files:
        with open(name, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def _folder_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.iterdir() if p.is_file()
                       and (p.suffix.lower() in MODEL_FILE_SUFFIXES or p.name in MODEL_FILE_NAMES)):
        digest.update(path.name.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def model_folders(segmentation: str, method: str, view_model: str | None = None) -> dict[str, Path]:
    """The model folders an analysis reads: segmentation, quality (or the pixel metrics' maps), view."""
    folders = {"segmentation": resolve_model(segmentation or DEFAULT_SEGMENTATION).parent}
    method = method or "e2e"
    if method in PIXEL_METRIC_METHODS:
        folders["quality"] = MODELS_DIR / "pixel_metrics"
    else:
        folders["quality"] = resolve_model(DEFAULT_QUALITY_MODEL if method == "e2e" else method).parent
    if view_model:
        folders["view"] = resolve_model(view_model).parent
    return folders


def fingerprint(settings: dict, folders: dict[str, Path]) -> tuple[str, dict]:
    """(short hash, what it covers) of the model files and the settings that change the results."""
    covered = {"format": FORMAT_VERSION, "settings": settings,
               "models": {role: {"name": folder.name, "sha256": _folder_hash(folder)} if folder.is_dir()
                          else {"name": folder.name, "sha256": None} for role, folder in sorted(folders.items())}}
    text = json.dumps(covered, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16], covered


def record_key(content: str, models: str) -> str:
    """The key of one recording analysed by one set of models: names its marker and its Parquet part."""
    return hashlib.sha256(f"{content}:{models}".encode()).hexdigest()[:32]

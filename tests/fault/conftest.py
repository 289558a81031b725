"""Fixtures of the fault suite: tiny inputs, a small tmpfs that fills up."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture
def small_disk(tmp_path) -> Path:
    """A 64 kB tmpfs mounted for this test (skipped where mounting is not permitted)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill(folder: Path, leave: int) -> None:
    """Fill the file system of `folder` until about `leave` bytes are free."""
    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    with open(folder / "filler", "wb") as f:
        f.write(b"\0" * max(0, free - leave))


def noise_loop(path: Path, n: int = 6, size: tuple[int, int] = (64, 64), seed: int = 0) -> Path:
    """A tiny (n, H, W) uint8 .npy loop of noise."""
    np.save(path, np.random.default_rng(seed).integers(0, 256, (n, *size), dtype=np.uint8))
    return path

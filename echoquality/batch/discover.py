"""Which files of an archive are recordings: folders walked recursively, each file either a recording
(every format `analyze` reads, DICOM also without extension) or skipped with its reason.

A numbered MetaImage sequence (`name_0.mhd`, `name_1.mhd`, ...) is one recording, `name_#.mhd`, as
`analyze` reads it; the `.raw`/`.zraw` data file beside a `.mhd` header belongs to that header.
"""
from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from echoquality.sources.files import DICOM_SUFFIXES, IMAGE_SUFFIXES, VIDEO_SUFFIXES

READABLE_SUFFIXES = VIDEO_SUFFIXES + IMAGE_SUFFIXES + (".npy", ".mhd", ".nii") + tuple(s for s in DICOM_SUFFIXES if s)
METAIMAGE_DATA_SUFFIXES = (".raw", ".zraw")
_NUMBERED_MHD = re.compile(r"^(?P<stem>.+_)(?P<number>\d+)\.mhd$", re.IGNORECASE)


@dataclass(frozen=True)
class Recording:
    """One input of the batch: the source string `analyze` opens and the files it reads (for its hash)."""
    source: str
    files: tuple[str, ...]


@dataclass(frozen=True)
class Skipped:
    """A file that is not a recording, and why."""
    source: str
    reason: str


def looks_like_dicom(path: Path) -> bool:
    """True when the file has the DICOM preamble ('DICM' at byte 128)."""
    try:
        with open(path, "rb") as f:
            return f.read(132)[128:132] == b"DICM"
    except OSError:
        return False


def _kind(path: Path) -> str | None:
    """'recording', or the reason the file is not one."""
    name = path.name.lower()
    if name.endswith(".nii.gz") or path.suffix.lower() in READABLE_SUFFIXES:
        return "recording"
    if looks_like_dicom(path):
        return "recording"
    if path.suffix.lower() in METAIMAGE_DATA_SUFFIXES and path.with_suffix(".mhd").exists():
        return f"data file of {path.with_suffix('.mhd').name} (read through its header)"
    if not path.suffix:
        return "not an image (no extension and no DICOM header)"
    return f"not an image (file type '{path.suffix}')"


def _walk(root: Path) -> list[Path]:
    files: list[Path] = []
    for folder, subfolders, names in os.walk(root, followlinks=False):
        subfolders.sort()
        files += [Path(folder) / n for n in sorted(names)]
    return files


def _metaimage_files(header: Path) -> list[str]:
    data = [header.with_suffix(s) for s in METAIMAGE_DATA_SUFFIXES]
    return [str(header)] + [str(p) for p in data if p.is_file()]


def discover(archives: list[str | Path]) -> tuple[list[Recording], list[Skipped]]:
    """The recordings under `archives` (files or folders, walked recursively, sorted) and the skipped files.

    A path that does not exist is one skipped entry with its reason."""
    recordings: list[Recording] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for archive in archives:
        root = Path(archive)
        if not root.exists():
            skipped.append(Skipped(str(root), "not found"))
            continue
        paths = _walk(root) if root.is_dir() else [root]
        numbered: dict[tuple[Path, str], list[Path]] = defaultdict(list)
        for path in paths:
            if str(path) in seen or not path.is_file():
                continue
            seen.add(str(path))
            kind = _kind(path)
            if kind != "recording":
                skipped.append(Skipped(str(path), kind))
                continue
            match = _NUMBERED_MHD.match(path.name)
            if match:
                numbered[(path.parent, match.group("stem"))].append(path)
            elif path.suffix.lower() == ".mhd":
                recordings.append(Recording(str(path), tuple(_metaimage_files(path))))
            else:
                recordings.append(Recording(str(path), (str(path),)))
        for (folder, stem), members in sorted(numbered.items()):
            if len(members) == 1:
                recordings.append(Recording(str(members[0]), tuple(_metaimage_files(members[0]))))
                continue
            members.sort(key=lambda p: int(_NUMBERED_MHD.match(p.name).group("number")))
            files = [f for m in members for f in _metaimage_files(m)]
            recordings.append(Recording(str(folder / f"{stem}#.mhd"), tuple(files)))
    return recordings, skipped

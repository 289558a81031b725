"""What every source is: the `Source` protocol, the source kinds, and the one parser of source strings.

A source string is what the user typed: a file (video, .npy, image, DICOM, .mhd, a numbered
`name_#.mhd` sequence) or a live scanner `igtl://HOST[:PORT][/DEVICE]`.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol

from echoquality.core.records import Frame

SCANNER_SCHEME = "igtl://"


class SourceError(Exception):
    """A source that cannot be read; the message names the input and the problem."""


class SourceKind(enum.Enum):
    FILE = "file"          # replayed from disk
    SCANNER = "scanner"    # live over OpenIGTLink


@dataclass(frozen=True)
class SourceSpec:
    """A parsed source string."""
    text: str
    kind: SourceKind

    @property
    def live(self) -> bool:
        return self.kind is SourceKind.SCANNER

    @property
    def address(self) -> str:
        """A scanner's HOST[:PORT][/DEVICE] (the text after igtl://); a file's path."""
        return self.text[len(SCANNER_SCHEME):] if self.live else self.text


def parse_source(text: str) -> SourceSpec:
    """The kind of a source string (the only place that decides it)."""
    text = str(text)
    return SourceSpec(text, SourceKind.SCANNER if text[:len(SCANNER_SCHEME)].lower() == SCANNER_SCHEME
                      else SourceKind.FILE)


def is_live(text: str) -> bool:
    """True for a live scanner source."""
    return parse_source(text).live


def scanner_source(address: str) -> str:
    """'host:port', 'host' or 'igtl://host:port/device' as an igtl:// source string."""
    address = address.strip()
    return address if is_live(address) else SCANNER_SCHEME + address


def source_stem(spec: str) -> str:
    """File name without extension (used to name outputs); a sanitised name for live streams."""
    parsed = parse_source(spec)
    if parsed.live:
        return "igtl_" + "".join(c if c.isalnum() else "_" for c in parsed.address).strip("_")
    name = Path(spec).name
    for suffix in (".nii.gz",):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem.replace("#", "")


class Source(Protocol):
    """An iterator of frames that can be closed from another thread."""
    fps: float | None
    n_frames: int | None

    def __iter__(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...

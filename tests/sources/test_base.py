"""Source strings: the one place that tells a live scanner from a file."""
from __future__ import annotations

import pytest

from echoquality.sources import SourceKind, is_live, parse_source
from echoquality.sources.base import scanner_source


@pytest.mark.parametrize("text, kind, address", [
    ("igtl://10.0.0.5:18944/Image_Reference", SourceKind.SCANNER, "10.0.0.5:18944/Image_Reference"),
    ("IGTL://scanner", SourceKind.SCANNER, "scanner"),
    ("data/samples/e95_a4c.mp4", SourceKind.FILE, "data/samples/e95_a4c.mp4"),
    ("out/recording_1/frames/frame_#.mhd", SourceKind.FILE, "out/recording_1/frames/frame_#.mhd"),
    ("igtl.mp4", SourceKind.FILE, "igtl.mp4"),
])
def test_source_kind_is_decided_in_one_place(text, kind, address):
    parsed = parse_source(text)
    assert parsed.kind is kind and parsed.address == address and parsed.text == text
    assert is_live(text) == (kind is SourceKind.SCANNER)


def test_scanner_addresses_become_igtl_sources():
    assert scanner_source(" 10.0.0.5:18944 ") == "igtl://10.0.0.5:18944"
    assert scanner_source("igtl://scanner:1234/Image") == "igtl://scanner:1234/Image"

"""Where frames come from: files (replay) and live scanners (OpenIGTLink), all as iterators of `Frame`s."""
from echoquality.sources.base import Source, SourceError, SourceKind, SourceSpec, is_live, parse_source, source_stem
from echoquality.sources.playback import open_source

__all__ = ["Source", "SourceError", "SourceKind", "SourceSpec", "is_live", "open_source", "parse_source",
           "source_stem"]

"""The shape of the code: one package, no path hacks, one FAST codec, one parser of source strings."""
from __future__ import annotations

import re

import pytest

from tests.helpers import ROOT

PYTHON_FILES = [p for folder in ("echoquality", "app", "tests", "training", "benchmarks", "docs")
                for p in (ROOT / folder).rglob("*.py")] + [ROOT / "launch.py"]


def offenders(pattern: str, allowed: tuple[str, ...] = ()) -> list[str]:
    found = []
    for path in PYTHON_FILES:
        name = path.relative_to(ROOT).as_posix()
        if name in allowed or name == "tests/test_architecture.py":
            continue
        if re.search(pattern, path.read_text(encoding="utf-8")):
            found.append(name)
    return found


@pytest.mark.parametrize("what, pattern, allowed", [
    ("sys.path changes (the package is installed, or run from the project root)", r"sys\.path\.(insert|append)", ()),
    ("frame data read or written outside the codec", r"\b(get|set|has)FrameData\(", ("echoquality/streaming/codec.py",)),
    ("source kinds decided outside sources/base.py", r"startswith\(\s*[\"']igtl://", ()),
    ("imports of the old flat modules", r"(?m)^\s*(from|import) pipelines\b", ()),
])
def test_one_place_for_each_concern(what, pattern, allowed):
    assert offenders(pattern, allowed) == [], what


def test_core_needs_neither_fast_nor_qt():
    assert offenders_in_core(r"^\s*(import fast|from fast|import PyQt6|from PyQt6)") == []


def offenders_in_core(pattern: str) -> list[str]:
    return [p.name for p in (ROOT / "echoquality" / "core").glob("*.py")
            if re.search(pattern, p.read_text(encoding="utf-8"), re.M)]

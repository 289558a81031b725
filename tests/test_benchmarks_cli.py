"""The benchmarks scripts read (issue: keep them runnable as today) start both as modules and as files.

As files from any folder they rely on the package being installed (`scripts/setup.sh` installs it editable),
not on path changes."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT


@pytest.mark.parametrize("name", ["bench_igtl_latency", "bench_gui"])
def test_a_benchmark_starts_as_a_file_from_anywhere_and_as_a_module(tmp_path, name):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    as_file = subprocess.run([sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), "--help"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=120, env=env)
    as_module = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", "--help"], cwd=ROOT,
                               capture_output=True, text=True, timeout=120, env=env)
    for result in (as_file, as_module):
        assert result.returncode == 0 and "usage:" in result.stdout, result.stderr[-2000:]

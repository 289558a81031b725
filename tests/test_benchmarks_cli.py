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


def test_competing_load_runs_busy_children_and_always_ends_them():
    from benchmarks.competing_load import competing_load

    with pytest.raises(RuntimeError):
        with competing_load(2) as children:
            assert len(children) == 2 and all(c.poll() is None for c in children)
            raise RuntimeError("the benchmark failed")
    assert all(c.poll() is not None for c in children)
    with competing_load(0) as none:
        assert none == []


def test_a_benchmark_names_its_competing_load(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_igtl_latency.py"), "--chain", "receive",
                             "--seconds", "1", "--busy", "1"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "competing load: 1 busy process " in result.stdout and "received" in result.stdout

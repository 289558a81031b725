"""`launch.py analyze igtl://...` end to end against `launch.py simulate-scanner` on loopback."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import DEMO_LOOP, ROOT, free_port, wait_for_output, wait_until


LAUNCH = ROOT / "launch.py"


class Scanner:
    """`launch.py simulate-scanner` on the demo loop in a child process."""

    def __init__(self, port: int):
        self.port = port
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> float:
        self.proc = subprocess.Popen(
            [sys.executable, str(LAUNCH), "--log-level", "INFO", "simulate-scanner", str(DEMO_LOOP),
             "--port", str(self.port), "--fps", "30", "--spacing", "0.3", "0.3"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ))
        return wait_for_output(self.proc, "streaming", timeout, "simulate-scanner")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc is not None:
            self.proc.stdout.close()


@pytest.fixture
def scanner():
    s = Scanner(free_port())
    yield s
    s.kill()


def rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [r for r in csv.DictReader(f) if r.get("global") is not None]


def analyze_cmd(url: str, out: Path, models: tuple[Path, Path], *extra: str) -> list[str]:
    seg, quality = models
    return [sys.executable, str(LAUNCH), "analyze", url, "--out", str(out), "--segmentation", str(seg),
            "--method", str(quality), *extra]


def test_analyze_live_stops_at_max_frames(tmp_path, tiny_models, scanner):
    scanner.start()
    url = f"igtl://127.0.0.1:{scanner.port}"
    result = subprocess.run(analyze_cmd(url, tmp_path, tiny_models, "--max-frames", "8", "--timeout", "30"),
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    got = rows(tmp_path / "results.csv")
    assert len(got) == 8
    assert all(r["source"] == url for r in got)
    indices = [int(r["frame"]) for r in got]
    assert indices == sorted(set(indices))


def test_analyze_live_survives_a_scanner_restart(tmp_path, tiny_models, scanner):
    scanner.start()
    csv_path = tmp_path / "results.csv"
    url = f"igtl://127.0.0.1:{scanner.port}"
    # --timeout must outlast the outage: 1 s away, the scanner child's start (seconds on a loaded 2-core
    # machine) and up to 1 s of reconnect backoff.
    proc = subprocess.Popen(analyze_cmd(url, tmp_path, tiny_models, "--timeout", "30"), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: len(rows(csv_path)) >= 3, 240, step=0.2), "no results before the outage"
        scanner.kill()
        time.sleep(1.0)
        before = len(rows(csv_path))
        back_at = scanner.start()
        assert wait_until(lambda: len(rows(csv_path)) > before, 60, step=0.05), "analysis did not resume"
        print(f"first result {time.monotonic() - back_at:.2f} s after the scanner came back")
        assert wait_until(lambda: len(rows(csv_path)) > before + 2, 60, step=0.05)
        scanner.kill()                                   # gone for good: --timeout ends the run
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    got = rows(csv_path)
    indices = [int(r["frame"]) for r in got]
    assert len(got) > before and indices == sorted(set(indices))
    assert "results:" in out

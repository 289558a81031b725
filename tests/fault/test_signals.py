"""Signals sent to real child processes: a clean stop with closed files, a summary and 128 + the signal;
no swallowed Ctrl-C, no traceback on a second one; the simulator and the GUI stop too."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from echoquality.outputs.results_csv import CSV_COLUMNS
from tests.fault.conftest import noise_loop
from tests.helpers import DEMO_LOOP, ROOT, free_port, wait_until

LAUNCH = str(ROOT / "launch.py")


def catches(pid: int, sig: int) -> bool:
    """True once the process has a handler for `sig` (its SigCgt mask in /proc)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = next((int(line.split()[1], 16) for line in status.splitlines() if line.startswith("SigCgt:")), 0)
    return bool(mask & (1 << (sig - 1)))


def wait_for_line(proc: subprocess.Popen, word: str, timeout: float) -> list[str]:
    """Read the child's stderr (unbuffered) until `word` appears; the text read, as lines."""
    import select
    deadline, seen = time.monotonic() + timeout, b""
    while time.monotonic() < deadline and word.encode() not in seen:
        if select.select([proc.stderr], [], [], 0.2)[0]:
            chunk = os.read(proc.stderr.fileno(), 1 << 16)
            if not chunk:
                break
            seen += chunk
    text = seen.decode(errors="replace")
    assert word in text, f"no line with {word!r}:\n{text}"
    return text.splitlines(keepends=True)


def start(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, LAUNCH, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **(env or {})})


def analyze(tmp_path: Path, models, *inputs: str, extra=()) -> tuple[subprocess.Popen, Path]:
    seg, quality = models
    out = tmp_path / "out"
    return start("analyze", *inputs, "--out", str(out), "--segmentation", str(seg), "--method", str(quality),
                 *extra), out


def n_rows(path: Path) -> int:
    try:
        return max(0, len(path.read_text().splitlines()) - 1)
    except OSError:
        return 0


def video_frames(path: Path) -> int:
    video = cv2.VideoCapture(str(path))
    n = 0
    while video.read()[0]:
        n += 1
    return n


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_cleanly(tmp_path, tiny_models, sig):
    proc, out = analyze(tmp_path, tiny_models, str(DEMO_LOOP), extra=["--save-video"])
    try:
        assert wait_until(lambda: n_rows(out / "results.csv") >= 3, 120), "no results"
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 128 + sig and "Traceback" not in stderr, stderr
    assert "results:" in stdout and "video:" in stdout     # the summary
    rows = n_rows(out / "results.csv")
    assert 3 <= rows < 195
    assert video_frames(out / "e95_a4c_split.mp4") == rows   # closed: the MP4 has its index


def test_ctrl_c_before_the_first_frame_is_not_swallowed(tmp_path, tiny_models):
    proc, out = analyze(tmp_path, tiny_models, str(DEMO_LOOP))
    try:
        assert wait_until(lambda: catches(proc.pid, signal.SIGTERM) or proc.poll() is not None, 60)
        proc.send_signal(signal.SIGINT)        # the handlers are in place: models may still be loading
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "Traceback" not in stderr, stderr
    assert n_rows(out / "results.csv") < 195


def test_second_ctrl_c_aborts_without_a_traceback(tmp_path, tiny_models):
    proc, out = analyze(tmp_path, tiny_models, str(DEMO_LOOP), str(DEMO_LOOP))
    try:
        assert wait_until(lambda: n_rows(out / "results.csv") >= 3, 120), "no results"
        proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "Traceback" not in stderr and "Swig" not in stderr, stderr
    text = (out / "results.csv").read_text()
    assert text.endswith("\n") and all(line.count(",") == len(CSV_COLUMNS) - 1 for line in text.splitlines())


def test_ctrl_c_while_waiting_for_the_first_live_frame(tmp_path, tiny_models):
    proc, out = analyze(tmp_path, tiny_models, f"igtl://127.0.0.1:{free_port()}")   # nothing listens there
    try:
        assert wait_until(lambda: catches(proc.pid, signal.SIGTERM), 60)
        time.sleep(1.0)      # well into the wait for a scanner
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "Traceback" not in stderr, stderr


def test_simulator_stops_on_ctrl_c_and_counts_what_it_sent(tmp_path):
    port = free_port()
    proc = start("--log-level", "INFO", "simulate-scanner", str(noise_loop(tmp_path / "l.npy", 4)), "--port", str(port),
                 "--fps", "50")
    try:
        early = wait_for_line(proc, "streaming", 60)
        with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
            received = 0
            while received < 20_000:      # a few frames
                chunk = client.recv(1 << 16)
                assert chunk, "the simulator closed the connection"
                received += len(chunk)
            proc.send_signal(signal.SIGINT)
            _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    stderr = "".join(early) + stderr
    assert proc.returncode == 130 and "Traceback" not in stderr, stderr
    sent = [line for line in stderr.splitlines() if "frames sent" in line]
    assert sent and int(sent[-1].split("Scanner simulator: ")[1].split()[0]) > 0, stderr


def test_gui_closes_on_ctrl_c(tmp_path, tiny_models):
    seg, quality = tiny_models
    proc = start("--log-level", "INFO", "gui", "--source", str(noise_loop(tmp_path / "l.npy", 4)), "--segmentation", str(seg),
                 "--method", str(quality), env={"QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path)})
    try:
        early = wait_for_line(proc, "close the window", 120)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    stderr = "".join(early) + stderr
    assert proc.returncode == 130 and "Traceback" not in stderr, stderr

"""The GUI's recording survives the app being killed (SIGKILL) mid-recording: it reopens, every frame
file is whole, every results row is whole and names a recorded frame, and fsync runs on a schedule."""
from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

from echoquality.outputs.recording import Recorder, recording_source
from echoquality.outputs.results_csv import CSV_COLUMNS
from echoquality.core.records import Frame
from echoquality.sources.files import read_recording
from tests.fault.conftest import noise_loop
from tests.fault.test_signals import wait_for_line
from tests.helpers import ROOT, wait_until

CHILD = """
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
import fast
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication
from app.main_window import MainWindow
loop, seg, quality, folder = sys.argv[1:5]
app = QApplication(sys.argv[:1])
window = MainWindow(loop, quality, None, seg, "auto")
window.show()
window.settings.loop = True

def start():
    if window.last is None:
        return
    timer.stop()
    window.start_recording(folder)
    print("recording", flush=True)
    sys.stderr.write("recording\\n")
    sys.stderr.flush()

timer = QTimer()
timer.timeout.connect(start)
timer.start(50)
app.exec()
"""


def whole_rows(path: Path) -> list[list[str]]:
    text = path.read_text()
    assert not text or text.endswith("\n"), "a half row"
    parsed = list(csv.reader(io.StringIO(text)))
    assert all(len(r) == len(CSV_COLUMNS) for r in parsed), parsed[-1]
    return parsed[1:]


def test_sigkill_mid_recording_leaves_a_recording_that_reopens(tmp_path, tiny_models):
    seg, quality = tiny_models
    folder = tmp_path / "rec"
    loop = noise_loop(tmp_path / "loop.npy", 30)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(loop), str(seg), str(quality), str(folder)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)})
    try:
        wait_for_line(proc, "recording", 120)
        assert wait_until(lambda: (folder / "results.csv").exists()
                          and len((folder / "results.csv").read_text().splitlines()) > 6, 120), "nothing recorded"
        seen = len((folder / "results.csv").read_text().splitlines()) - 1
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGKILL
    rows = whole_rows(folder / "results.csv")
    assert len(rows) >= seen                                     # nothing already written is lost
    frames = {int(p.stem.split("_")[1]) for p in (folder / "frames").glob("frame_*.mhd")}
    assert {int(r[1]) for r in rows} <= frames                   # every row's frame is on disk
    recorded = list(read_recording(Path(recording_source(folder))).frames)
    assert len(recorded) == len(frames) and all(f.image.shape == (64, 64) for f in recorded)


def test_recorder_syncs_on_a_schedule(tmp_path, monkeypatch):
    import echoquality.outputs.recording as recording
    monkeypatch.setattr(recording, "SYNC_INTERVAL_S", 0.05)
    recorder = Recorder(tmp_path / "rec", "test", 30.0, "a4c", "q")
    recorder.add_frame(Frame(np.zeros((8, 8), np.uint8), 0, 0.0, (0.3, 0.3), "test", True))
    assert wait_until(lambda: recorder.syncs >= 2, 30)       # also with nothing new queued
    recorder.close()
    assert recorder.error is None and recorder.frames_written == 1

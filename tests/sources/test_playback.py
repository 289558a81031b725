"""Playback control: pause, step, resume at a frame, real-time pacing that drops late frames."""
from __future__ import annotations

import threading
import time

import numpy as np

from echoquality.core.records import Frame
from echoquality.sources.playback import FrameGate


def _frames(n: int):
    for i in range(n):
        yield Frame(np.full((4, 4), i, np.uint8), i, i / 30, (0.3, 0.3), "test")


def test_frame_gate_pauses_steps_and_stops():
    gate = FrameGate(_frames(100), fps=None, paused=True)
    got: list[int] = []
    thread = threading.Thread(target=lambda: got.extend(f.index for f in gate), daemon=True)
    thread.start()
    time.sleep(0.2)
    assert got == []
    gate.step()
    gate.step()
    deadline = time.monotonic() + 5
    while len(got) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    assert got == [0, 1]
    gate.stop()
    thread.join(5)
    assert not thread.is_alive() and got == [0, 1]
    assert gate.last_index == 1 and gate.sent_count == 2


def test_frame_gate_resumes_at_a_frame_and_drops_late_frames_in_real_time():
    assert [f.index for f in FrameGate(_frames(10), start_frame=7)] == [7, 8, 9]
    gate = FrameGate(_frames(30), fps=1000.0)
    sent = []
    for frame in gate:
        sent.append(frame.index)
        time.sleep(0.005)               # a consumer five times slower than the frame rate
    assert gate.skipped > 0 and len(sent) + gate.skipped == 30 and sent[0] == 0

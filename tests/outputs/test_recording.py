"""Recordings: frames as a MetaImage sequence that reads back, results on disk as they come."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from echoquality.core.records import Frame, FrameResult
from echoquality.core.vocabulary import N_REGIONS
from echoquality.outputs.recording import Recorder, recording_source, write_metaimage
from echoquality.sources.files import read_recording


def _frames(n: int):
    for i in range(n):
        yield Frame(np.full((4, 4), i, np.uint8), i, i / 30, (0.3, 0.3), "test")


def test_recorded_frame_reads_back_with_its_spacing(tmp_path):
    image = (np.arange(30 * 40) % 251).astype(np.uint8).reshape(30, 40)
    (tmp_path / "frames").mkdir()
    write_metaimage(tmp_path / "frames" / "frame_3.mhd", image, (0.25, 0.5))
    recording = read_recording(Path(recording_source(tmp_path)))
    frames = list(recording.frames)
    assert len(frames) == 1 and np.array_equal(frames[0].image, image)
    assert recording.spacing == pytest.approx((0.25, 0.5))
    assert not list((tmp_path / "frames").glob("*.part"))


def test_recording_is_on_disk_before_it_is_closed(qtbot, tmp_path):
    recorder = Recorder(tmp_path / "rec", "test", 30.0, "a4c", "gcnr")
    try:
        for frame in _frames(5):
            recorder.add_frame(frame)
            recorder.add_result(FrameResult(frame, scores=np.linspace(1, 5, N_REGIONS), method="gcnr"))

        def on_disk() -> bool:
            rows = (tmp_path / "rec" / "results.csv").read_text().splitlines()
            return len(rows) == 6 and len(list((tmp_path / "rec" / "frames").glob("*.mhd"))) == 5
        qtbot.waitUntil(on_disk, timeout=10_000)        # a crash now would lose nothing
        frames = list(read_recording(Path(recording_source(tmp_path / "rec"))).frames)
        assert [int(f.image[0, 0]) for f in frames] == [0, 1, 2, 3, 4]
    finally:
        recorder.close()

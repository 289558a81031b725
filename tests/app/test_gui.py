"""The split-screen window driven offscreen (pytest-qt): real widgets, real FAST chain, tiny real ONNX models."""
from __future__ import annotations

import csv
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import QSettings, Qt
from PyQt6.QtGui import QImage

from tests.helpers import DEMO_LOOP, ROOT
from tests.onnx_models import constant_quality, heart_segmentation

from app import analysis_worker as aw
from app.anatomy import region_label, region_labels, wall_names
from app.image_panel import resize_for_display
from app.main_window import MainWindow, normalise_scanner_address
from app.quality_strip import QualityHistory
from app.stream_stats import StreamStats
from echoquality.core.vocabulary import N_REGIONS
from echoquality.outputs.recording import recording_source
from echoquality.outputs.results_csv import CSV_COLUMNS
from echoquality.sources.files import read_recording

WAIT_MS = 60_000   # generous bounds: the whole suite runs on 2 cores


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> tuple[str, str]:
    """A fixed plausible heart (survives the anatomical clean-up) and a constant quality model."""
    folder = tmp_path_factory.mktemp("gui_models")
    heart_segmentation(folder / "seg" / "model.onnx")
    constant_quality(folder / "quality" / "model.onnx")
    return str(folder / "seg"), str(folder / "quality")


@pytest.fixture
def store(tmp_path) -> QSettings:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("output_folder", str(tmp_path / "out"))
    settings.sync()
    return settings


@pytest.fixture
def make_window(qtbot, models, store):
    windows = []

    def make(source: str | None = str(DEMO_LOOP), **kwargs) -> MainWindow:
        kwargs.setdefault("segmentation", models[0])
        kwargs.setdefault("method", models[1])
        window = MainWindow(source, store=kwargs.pop("store", store), **kwargs)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()        # stops workers and recorders (bounded waits)


def wait_frames(qtbot, window: MainWindow, n: int, timeout: int = WAIT_MS) -> None:
    target = window.frames_shown + n
    qtbot.waitUntil(lambda: window.frames_shown >= target, timeout=timeout)


def settle(qtbot, window: MainWindow, quiet_ms: int = 500, timeout_s: float = 60) -> None:
    """Wait until no new frame has been shown for quiet_ms."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        shown = window.frames_shown
        qtbot.wait(quiet_ms)
        if window.frames_shown == shown:
            return
    raise AssertionError("frames kept coming")


# ---------------------------------------------------------------------------- pure parts


def test_anatomical_names_per_view():
    assert wall_names("a4c") == ("inferoseptal", "anterolateral")
    assert wall_names("a2c") == ("inferior", "anterior")
    assert wall_names("alax") == ("inferolateral", "anteroseptal")
    assert region_label("basal_left", "a4c") == "basal inferoseptal"
    assert region_label("apical_right", "a2c") == "apical anterior"
    assert region_label("annulus_right", "alax") == "anteroseptal annulus"
    assert len(set(region_labels("a4c"))) == N_REGIONS


def test_quality_history_keeps_last_seconds_and_restarts_when_time_goes_back():
    history = QualityHistory(seconds=2.0)
    for i in range(50):
        history.add(i * 0.1, np.full(N_REGIONS, 2.0 if i < 40 else 4.0))
    assert history.times()[0] >= 4.9 - 2.0 - 1e-9
    runs = history.runs(0)
    assert [cat for _, _, cat in runs] == [2, 4]
    history.add(0.0, np.full(N_REGIONS, np.nan))
    assert len(history) == 1 and history.runs(3)[0][2] == 0 and np.isnan(history.latest()).all()


def test_stream_stats_counts_frames_never_shown():
    stats = StreamStats()
    for t, index in enumerate([0, 1, 4, 5, 9]):
        stats.add(float(t), index, 0.01)
    assert stats.dropped == 5 and stats.shown == 5
    assert stats.latency_ms()[0] == pytest.approx(10.0)
    stats.reset(first_index=20)
    stats.add(0.0, 22, None)
    assert stats.dropped == 2


def test_scanner_address_is_checked():
    assert normalise_scanner_address("10.0.0.5:18944") == "igtl://10.0.0.5:18944"
    assert normalise_scanner_address("igtl://scanner:1234/Image") == "igtl://scanner:1234/Image"
    with pytest.raises(ValueError, match="port"):
        normalise_scanner_address("scanner:notaport")


# ---------------------------------------------------------------------------- the window


def test_window_shows_b_mode_and_quality_for_the_demo_loop(qtbot, make_window):
    window = make_window()
    wait_frames(qtbot, window, 5)
    shown = window.last
    assert shown.frame.source == str(DEMO_LOOP)
    assert window.left_panel.has_image() and window.right_panel.has_image()
    assert shown.quality_image.shape == shown.frame.image.shape + (3,)
    coloured = np.abs(shown.quality_image.astype(int) - shown.frame.image[..., None]).sum(axis=2) > 0
    assert coloured.any()                                      # some region filled in its colour
    scores = shown.result.scores
    assert scores.shape == (N_REGIONS,)
    valid = scores[~np.isnan(scores)]
    assert window.global_quality.valid == valid.size
    if valid.size:
        assert window.global_quality.score == pytest.approx(valid.mean())
    assert len(window.strip.history) >= 1
    assert "inferoseptal" in window.right_panel.corner_left and "anterolateral" in window.right_panel.corner_right
    qtbot.waitUntil(lambda: "frames/s" in window.status_fps.text(), timeout=5000)
    assert "dropped" in window.status_dropped.text() and "latency" in window.status_latency.text()


def test_frames_arrive_resized_for_the_panels_off_the_ui_thread(qtbot, make_window):
    window = make_window()
    wait_frames(qtbot, window, 3)
    qtbot.waitUntil(lambda: window.last.left_display is not None and window.last.right_display is not None,
                    timeout=WAIT_MS)
    shown = window.last
    (w, h), pixels, image = shown.right_display
    assert (image.width(), image.height()) == (w, h) and pixels.shape[:2] == (h, w)
    assert shown.left_display[0] == window.left_panel.display_size
    # Drawn as prepared: the panel blits the worker's image instead of resizing it again.
    window.right_panel.repaint()
    if window.last is shown:
        assert window.right_panel._scaled is shown.right_display
    # The quality image, not the plain frame, is what the right panel gets.
    expected = resize_for_display(shown.quality_image, (w, h))
    rgb = [2, 1, 0] if sys.byteorder == "little" else [0, 1, 2]      # the screen's 32-bit layout
    assert np.array_equal(pixels[..., rgb], expected)


def test_regional_scores_on_demand(qtbot, make_window):
    window = make_window()
    wait_frames(qtbot, window, 2)
    window.set_show_scores(False)
    assert window.right_panel.markers == [] and not window.region_scores.isVisible()
    window.set_show_scores(True)
    assert len(window.right_panel.markers) == N_REGIONS and window.region_scores.isVisible()
    wait_frames(qtbot, window, 1)
    assert np.array_equal(window.region_scores.scores, window.last.result.scores, equal_nan=True)


def test_view_switch_changes_names_and_division(qtbot, make_window):
    window = make_window()
    wait_frames(qtbot, window, 2)
    window.set_view("a2c")
    assert window.right_panel.corner_left.endswith("inferior") and "anterior" in window.right_panel.corner_right
    qtbot.waitUntil(lambda: window.last is not None and window.last.result.view == "a2c", timeout=WAIT_MS)
    assert window.region_scores.view == "a2c" and window.view_box.currentData() == "a2c"
    window.set_view("alax")
    qtbot.waitUntil(lambda: window.last.result.view == "alax", timeout=WAIT_MS)
    assert "inferolateral" in window.right_panel.corner_left


def test_a_non_apical_dicom_shows_why_instead_of_regions(qtbot, make_window):
    dicom = ROOT.parent / "shared" / "data" / "non_apical" / "1E5H70ZT.dcm"
    if not dicom.is_file():
        pytest.skip("../shared/data/non_apical is not present")
    window = make_window(str(dicom))
    qtbot.waitUntil(lambda: window.last is not None, timeout=WAIT_MS)
    assert window.last.result.status == "m_mode" and window.last.quality_image is None
    assert window.right_panel.message == "No apical view: M-mode"
    assert np.isnan(window.last.result.scores).all()


def test_the_view_is_recognised_by_default_and_names_the_walls(qtbot, make_window):
    window = make_window()
    assert window.view == "auto" and window.view_box.currentData() == "auto"
    qtbot.waitUntil(lambda: window.last is not None and window.last.result.view == "a4c", timeout=WAIT_MS)
    assert window.shown_view == "a4c" and "inferoseptal" in window.right_panel.corner_left
    assert "RECOGNISED" in window.right_header.text()


def test_method_switch_restarts_the_analysis(qtbot, make_window, models):
    window = make_window()
    wait_frames(qtbot, window, 2)
    window.set_method("intensity")
    qtbot.waitUntil(lambda: window.last.result.method == "intensity" or window.worker.state == aw.FAILED,
                    timeout=WAIT_MS)
    window.set_method(models[1])
    qtbot.waitUntil(lambda: window.last.result.method == Path(models[1]).name, timeout=WAIT_MS)


def test_source_switching_and_a_bad_source(qtbot, make_window, tmp_path):
    clip = tmp_path / "clip.npy"
    rng = np.random.default_rng(0)
    np.save(clip, rng.integers(0, 255, (6, 120, 100), dtype=np.uint8))
    window = make_window()
    wait_frames(qtbot, window, 2)
    old = window.worker
    window.set_loop(False)
    window.open_source(str(clip))
    qtbot.waitUntil(lambda: window.last is not None and window.last.frame.source == str(clip), timeout=WAIT_MS)
    assert window.last.frame.image.shape == (120, 100)
    qtbot.waitUntil(lambda: old not in window._workers, timeout=WAIT_MS)        # the old analysis ended
    qtbot.waitUntil(lambda: window.worker.state == aw.ENDED, timeout=WAIT_MS)    # six frames, no loop
    last = window.last.frame.index          # replay keeps real time: a late frame may be dropped on a busy machine
    qtbot.wait(300)
    assert window.last.frame.source == str(clip) and window.last.frame.index == last <= 5

    window.open_source(str(tmp_path / "missing.mp4"))
    qtbot.waitUntil(lambda: "missing.mp4" in window.left_panel.message, timeout=WAIT_MS)
    assert window.worker.state == aw.FAILED
    window.open_source(str(DEMO_LOOP))                                           # still usable
    qtbot.waitUntil(lambda: window.last is not None and window.last.frame.source == str(DEMO_LOOP),
                    timeout=WAIT_MS)


def test_play_pause_and_step(qtbot, make_window):
    window = make_window()
    wait_frames(qtbot, window, 3)
    window.pause()
    assert window.act_play.text() == "Play"
    settle(qtbot, window)                   # the frame already in the chain arrives
    before = window.frames_shown
    qtbot.wait(600)
    assert window.frames_shown == before
    index = window.last.frame.index
    window.step()
    qtbot.waitUntil(lambda: window.frames_shown == before + 1, timeout=WAIT_MS)
    assert window.last.frame.index > index          # the next frame let in (one dropped just before the pause may be skipped)
    index = window.last.frame.index
    window.step()
    qtbot.waitUntil(lambda: window.frames_shown == before + 2, timeout=WAIT_MS)
    assert window.last.frame.index == index + 1     # while paused, steps go frame by frame
    qtbot.wait(300)
    assert window.frames_shown == before + 2
    window.play()
    assert window.act_play.text() == "Pause"
    wait_frames(qtbot, window, 3)


def test_keyboard_shortcuts(qtbot, make_window):
    window = make_window()
    window.activateWindow()
    wait_frames(qtbot, window, 2)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not window.is_playing(), timeout=5000)
    shown = window.show_scores
    qtbot.keyClick(window, Qt.Key.Key_S)
    assert window.show_scores != shown and window.act_scores.isChecked() == window.show_scores
    index = window.last.frame.index
    qtbot.keyClick(window, Qt.Key.Key_2)
    assert window.view == "a2c"
    qtbot.waitUntil(lambda: window.last.result.view == "a2c", timeout=WAIT_MS)   # paused: same frame, new view
    assert window.last.frame.index == index and not window.is_playing()
    qtbot.keyClick(window, Qt.Key.Key_F11)
    qtbot.waitUntil(window.isFullScreen, timeout=5000)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.isFullScreen(), timeout=5000)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    qtbot.waitUntil(window.is_playing, timeout=5000)


def test_record_then_reopen_the_recording(qtbot, make_window, tmp_path):
    window = make_window()
    wait_frames(qtbot, window, 2)
    folder = window.start_recording(tmp_path / "rec")
    assert window.act_record.isChecked() and folder == tmp_path / "rec"
    qtbot.waitUntil(lambda: window.recorder.results_written >= 8, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "REC" in window.status_record.text(), timeout=5000)
    window.pause()
    settle(qtbot, window)
    assert window.stop_recording() == folder
    window.wait_for_recordings()
    assert not window.act_record.isChecked()

    with open(folder / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    assert len(rows) >= 8
    files = sorted(folder.glob("frames/frame_*.mhd"), key=lambda p: int(p.stem.split("_")[1]))
    assert {int(r["frame"]) for r in rows} <= {int(p.stem.split("_")[1]) for p in files}
    recorded = read_recording(Path(recording_source(folder)))
    first = next(iter(recorded.frames)).image
    assert first.shape == window.last.frame.image.shape

    window.open_source(str(folder))                                   # a recording folder reopens as a source
    assert window.source == recording_source(folder)
    qtbot.waitUntil(lambda: window.last is not None and window.last.frame.source == recording_source(folder),
                    timeout=WAIT_MS)
    assert window.last.frame.image.shape == first.shape


def test_snapshot_is_a_png_of_the_split_screen(qtbot, make_window, tmp_path):
    window = make_window()
    wait_frames(qtbot, window, 2)
    path = window.save_snapshot(tmp_path / "snap.png")
    image = QImage(str(path))
    assert not image.isNull() and image.width() > 400 and image.height() > 200


def test_settings_are_kept_between_runs(qtbot, make_window, store, models):
    window = make_window()
    wait_frames(qtbot, window, 1)
    window.set_view("a2c")
    window.set_loop(False)
    window.set_show_scores(True)
    window.close()
    again = make_window(None)
    assert again.view == "a2c" and again.loop is False and again.show_scores is True
    assert again.settings.last_source == str(DEMO_LOOP)


def test_model_that_cannot_load_is_reported_not_fatal(qtbot, make_window, tmp_path):
    window = make_window(segmentation=str(tmp_path / "no_model"))
    qtbot.waitUntil(lambda: "no_model" in window.left_panel.message, timeout=WAIT_MS)
    assert window.worker.state == aw.FAILED and window.frames_shown == 0
    window.set_view("a2c")            # the window still reacts
    assert window.view == "a2c"


class Scanner:
    """An in-process OpenIGTLink scanner (echoquality.sources.igtl.simulator's server) on a free loopback port."""

    def __init__(self):
        from echoquality.sources.igtl.simulator import ScannerServer
        from echoquality.sources.playback import open_source
        self.frames = [f for _, f in zip(range(20), open_source(str(DEMO_LOOP)))]
        self.server = ScannerServer("127.0.0.1", 0)
        self.port = self.server.port
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._send, daemon=True)

    def start(self) -> "Scanner":
        self.server.start()
        self.thread.start()
        return self

    def _send(self) -> None:
        from echoquality.sources.igtl.simulator import image_message
        i = 0
        while not self.stop_event.wait(1 / 30):
            if self.server.wait_for_client(timeout=0.1):
                frame = self.frames[i % len(self.frames)]
                self.server.push(image_message(frame, "Image", (0.3, 0.3), time.time()))
                i += 1

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(5)
        self.server.stop()


def test_scanner_that_disappears_while_connected(qtbot, make_window):
    scanner = Scanner().start()
    try:
        window = make_window(f"igtl://127.0.0.1:{scanner.port}")
        wait_frames(qtbot, window, 3)
        assert window.last.frame.timestamp is not None
        qtbot.waitUntil(lambda: window.status_state.text().startswith("scanner: streaming"), timeout=WAIT_MS)
    finally:
        scanner.stop()
    qtbot.waitUntil(lambda: window.worker.source_state in ("disconnected", "connecting"), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "reconnect" in window.left_panel.message or "Connecting" in window.left_panel.message,
                    timeout=WAIT_MS)
    shown = window.frames_shown
    window.set_show_scores(True)                       # the UI still answers while the scanner is gone
    window.open_source(str(DEMO_LOOP))
    qtbot.waitUntil(lambda: window.frames_shown > shown and window.last.frame.source == str(DEMO_LOOP),
                    timeout=WAIT_MS)
    assert window.left_panel.message == ""


def test_unreachable_scanner_keeps_the_window_usable(qtbot, make_window):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]                       # nobody listens here
    window = make_window(f"igtl://127.0.0.1:{port}")
    qtbot.waitUntil(lambda: "Connecting to the scanner" in window.left_panel.message, timeout=WAIT_MS)
    assert window.frames_shown == 0 and window.status_state.text().startswith("scanner: connecting")
    window.open_source(str(DEMO_LOOP))
    qtbot.waitUntil(lambda: window.frames_shown > 0, timeout=WAIT_MS)
    assert window.left_panel.message == ""

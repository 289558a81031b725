"""Live cycles in the window: ED/ES marks on the strip, best cycle per measurement with its thumbnail
and approval badges, replay on a click (offscreen, synthetic beating LV fed frame by frame)."""
from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtCore import QSettings, Qt

from app import analysis_worker as aw
from app.cycle_panel import STATUS_COLOURS, CycleFrame, CyclePanel, CycleReplay
from app.main_window import MainWindow
from app.quality_strip import MARK_COLOURS, QualityStrip
from echoquality.core.cycle_quality import APPROVED, REJECTED
from echoquality.core.cycle_tracker import CycleTracker, lv_area_mm2
from echoquality.core.records import Frame, FrameResult
from tests.core.synthetic_cycles import area_curve
from tests.core.test_ejection_fraction import half_ellipse

FPS = 30
PERIODS = [0.9, 0.8, 0.9, 0.85]


def analysed_frames(poor_wall: bool = False) -> list[aw.AnalysedFrame]:
    """A beating half-ellipse LV at 30 frames/s; the right wall poor in the second cycle when asked."""
    area, eds, _ = area_curve(PERIODS, FPS, duration_s=sum(PERIODS) + 0.3)
    frac = (area - area.min()) / np.ptp(area)
    shapes = [half_ellipse(60 + 20 * f, 15 + 8 * f, (0.6, 0.6)) for f in np.linspace(0, 1, 11)]
    out = []
    for i, f in enumerate(frac):
        scores = np.full(8, 3.6)
        if poor_wall and eds[1] <= i < eds[2]:
            scores[3:6] = 1.6
        image = np.full((120, 100), 40 + i % 200, np.uint8)
        result = FrameResult(Frame(image, i, i / FPS, (1.2, 1.2), "synthetic"),
                             labels=shapes[int(round(f * 10))], scores=scores)
        out.append(aw.AnalysedFrame(result, None, np.full((8, 2), np.nan)))
    return out


@pytest.fixture
def window(qtbot, tmp_path):
    store = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    store.setValue("output_folder", str(tmp_path / "out"))
    w = MainWindow(None, store=store)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()


def test_window_marks_cycles_and_keeps_the_best_per_measurement(qtbot, window):
    window.source_fps = FPS
    for analysed in analysed_frames(poor_wall=True):
        window.strip.add(analysed.frame.time_s, analysed.result.scores)
        window._update_cycles(analysed)
    kinds = {kind for _, kind in window.strip.marks}
    assert kinds == {"ED", "ES"} and len(window.strip.marks) >= 5
    tracker = window.cycle_tracker
    assert tracker.n_cycles >= 2
    ef = window.cycle_panel.cards["EF"]
    best = tracker.best["EF"]
    assert best.feasible["EF"]
    assert ef.title.text().startswith(f"EF: best cycle {best.cycle.index + 1}")
    assert ef.badges.statuses == [APPROVED] * 6
    assert ef.thumbnail.image is not None and ef.thumbnail.image.shape[1] == 192
    assert "anterolateral wall poor in 1 of" in ef.reason.text()
    # single-plane EF of that cycle: half ellipsoids (length, radius) ED (80, 23), ES (60, 15) mm
    truth = 100 * (1 - 60 * 15 ** 2 / (80 * 23 ** 2))
    text = ef.value.text()
    assert text.endswith("% (research use only)") and abs(float(text.split()[1]) - truth) <= 4, text
    assert window.cycle_panel.cards["GLS"].value.text() == ""
    with qtbot.waitSignal(window.cycle_panel.replay_requested, timeout=2000) as signal:
        qtbot.mouseClick(ef.thumbnail, Qt.MouseButton.LeftButton)
    assert signal.args == ["EF"]
    assert isinstance(window.replay, CycleReplay) and window.replay.isVisible()
    assert len(window.replay.frames) == best.cycle.end - best.cycle.start + 1
    first = window.replay.index
    qtbot.waitUntil(lambda: window.replay.index != first, timeout=2000)     # it plays
    window.replay.close()


def test_a_new_source_clears_the_cycles(window):
    window.source_fps = FPS
    for analysed in analysed_frames():
        window._update_cycles(analysed)
    assert window.cycle_panel.frames
    window._reset_cycles()
    assert window.cycle_tracker is None and not window.cycle_panel.frames
    assert window.cycle_panel.cards["MAPSE"].title.text() == "MAPSE: no cycle yet"


def test_ef_not_shown_where_not_feasible(window):
    window.source_fps = FPS
    for analysed in analysed_frames():
        analysed.result.scores[3:6] = 1.5                       # the anterolateral wall poor throughout
        window._update_cycles(analysed)
    card = window.cycle_panel.cards["EF"]
    assert card.title.text().startswith("EF: best cycle") and card.value.text() == ""
    assert card.reason.text().startswith("EF: not feasible, anterolateral wall poor")


def test_badges_show_rejected_regions(qtbot):
    panel = CyclePanel()
    qtbot.addWidget(panel)
    tracker = CycleTracker(FPS)
    for analysed in analysed_frames():
        scores = analysed.result.scores.copy()
        scores[7] = np.nan                                      # right annulus never found
        tracker.push(analysed.frame.index, analysed.frame.time_s, lv_area_mm2(analysed.result), scores,
                     CycleFrame(analysed.frame.index, analysed.frame.image, None, (1.0, 1.0)))
    panel.update_from(tracker)
    card = panel.cards["MAPSE"]
    assert card.badges.statuses == [APPROVED, REJECTED]
    assert "anterolateral annulus not found" in card.reason.text()
    image = card.badges.grab().toImage()
    assert image.pixelColor(4, 6) == STATUS_COLOURS[APPROVED]


def test_strip_draws_the_marks(qtbot):
    strip = QualityStrip(seconds=4.0)
    qtbot.addWidget(strip)
    strip.resize(600, 180)
    for k in range(40):
        strip.add(k * 0.1, np.full(8, 3.0))
    strip.add_mark(2.0, "ED")
    image = strip.grab().toImage()
    x0, width = strip.LABEL_WIDTH, 600 - strip.VALUE_WIDTH - 6 - strip.LABEL_WIDTH
    x = int(x0 + width * (1 - (3.9 - 2.0) / 4.0))
    colours = {image.pixelColor(x + dx, 60).name() for dx in (-1, 0, 1)}
    assert MARK_COLOURS["ED"].name() in colours
    strip.clear()
    assert not strip.marks

"""Best cardiac cycle so far per measurement (EF, GLS, MAPSE): a thumbnail of its ED frame (click:
replay the cycle), an approval badge per region, the one-sentence reason, and for EF, only where it
is feasible, the single-plane EF of that cycle (research use only)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PyQt6.QtCore import QRectF, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QPainter
from PyQt6.QtWidgets import QDialog, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from echoquality.core.cycle_quality import APPROVED, BORDERLINE, MEASUREMENTS, CycleQuality, explain, region_words
from echoquality.core.cycle_tracker import CycleTracker
from echoquality.core.ejection_fraction import ejection_fraction, volume_ml
from echoquality.core.vocabulary import WALLS

from .image_panel import ImagePanel, to_qimage

STATUS_COLOURS = {APPROVED: QColor(60, 170, 80), BORDERLINE: QColor(235, 175, 30)}
REJECTED_COLOUR = QColor(215, 60, 50)
THUMB_W, THUMB_H = 112, 84


@dataclass
class CycleFrame:
    """What the window keeps of a frame for the cycle panel (the tracker's payload)."""
    index: int
    image: np.ndarray                   # a small picture, to show and replay
    labels: np.ndarray | None           # the segmentation at network size, for the EF
    spacing: tuple[float, float]        # its mm per pixel


def cycle_ef(quality: CycleQuality, frames: list[CycleFrame]) -> float:
    """Single-plane EF (percent) of a cycle from its ED and ES segmentations; NaN when not kept."""
    by_index = {f.index: f for f in frames if f.labels is not None}
    ed, es = by_index.get(quality.cycle.ed_frame), by_index.get(quality.cycle.es_frame)
    if ed is None or es is None:
        return math.nan
    return ejection_fraction(volume_ml(ed.labels, ed.spacing), volume_ml(es.labels, es.spacing))


class Thumbnail(QWidget):
    """An image, fitted; emits `clicked`."""

    clicked = pyqtSignal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.image: np.ndarray | None = None
        self.setFixedSize(THUMB_W, THUMB_H)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def set_image(self, image: np.ndarray | None) -> None:
        self.image = image
        self.setToolTip("Click to replay this cycle" if image is not None else "No cycle yet")
        self.update()

    def mousePressEvent(self, event) -> None:
        if self.image is not None and event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(8, 9, 11))
        if self.image is not None:
            h, w = self.image.shape[:2]
            scale = min(self.width() / w, self.height() / h)
            target = QRectF((self.width() - w * scale) / 2, (self.height() - h * scale) / 2, w * scale, h * scale)
            painter.drawImage(target, to_qimage(self.image))
        else:
            painter.setPen(QColor(120, 125, 135))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "no cycle yet")
        painter.end()


class Badges(QWidget):
    """One small square per region of a measurement: green approved, amber borderline, red rejected."""

    SIZE, GAP = 12, 3

    def __init__(self, n: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.statuses: list[str | None] = [None] * n
        self.setFixedSize(n * (self.SIZE + self.GAP), self.SIZE + 2)

    def set_statuses(self, statuses: list[str | None], names: list[str]) -> None:
        self.statuses = statuses
        self.setToolTip("\n".join(f"{name}: {status or 'no cycle yet'}" for name, status in zip(names, statuses)))
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        for k, status in enumerate(self.statuses):
            colour = STATUS_COLOURS.get(status, REJECTED_COLOUR) if status else QColor(70, 74, 82)
            painter.fillRect(QRectF(k * (self.SIZE + self.GAP), 1, self.SIZE, self.SIZE), colour)
        painter.end()


class MeasurementCard(QWidget):
    """One measurement: title, thumbnail, badges, reason."""

    def __init__(self, measurement: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.measurement = measurement
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        self.title = QLabel(measurement)
        self.value = QLabel("")            # EF only: its value where feasible (research use)
        self.thumbnail = Thumbnail()
        self.badges = Badges(len(MEASUREMENTS[measurement].regions))
        self.reason = QLabel("")
        self.reason.setWordWrap(True)
        small = QFont(self.font())
        small.setPixelSize(11)
        self.reason.setFont(small)
        self.title.setFont(small)
        self.value.setFont(small)
        self.value.setToolTip("Single-plane method of disks on the research segmentation: not for clinical use")
        for w in (self.title, self.value, self.thumbnail, self.badges, self.reason):
            layout.addWidget(w)
        layout.addStretch(1)
        self.setFixedWidth(170)


class CyclePanel(QWidget):
    """Best cycle so far per measurement, from a live `CycleTracker`; `replay_requested(measurement)`."""

    replay_requested = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.view = "a4c"
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        self.cards = {m: MeasurementCard(m) for m in MEASUREMENTS}
        self.frames: dict[str, list[np.ndarray]] = {}     # measurement → frames of its best cycle, to replay
        self.titles: dict[str, str] = {}
        for m, card in self.cards.items():
            card.thumbnail.clicked.connect(lambda m=m: self.replay_requested.emit(m))
            layout.addWidget(card)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
        self.setToolTip("Best cardiac cycle so far per measurement (research use)")
        self.clear()

    def set_view(self, view: str) -> None:
        self.view = view

    def clear(self) -> None:
        self.frames.clear()
        self.titles.clear()
        names = region_words(WALLS[self.view])
        for m, card in self.cards.items():
            card.title.setText(f"{m}: no cycle yet")
            card.thumbnail.set_image(None)
            card.value.setText("")
            card.badges.set_statuses([None] * len(MEASUREMENTS[m].regions), [names[r] for r in MEASUREMENTS[m].regions])
            card.reason.setText("")

    def update_from(self, tracker: CycleTracker) -> None:
        """Show the tracker's best cycles (call when a cycle completes)."""
        names = region_words(WALLS[self.view])
        for m, card in self.cards.items():
            best = tracker.best.get(m)
            if best is None:
                continue
            c = best.cycle
            rate = f", {c.heart_rate_bpm:.0f} bpm" if np.isfinite(c.heart_rate_bpm) else ""
            card.title.setText(f"{m}: best cycle {c.index + 1}{rate}")
            kept: list[CycleFrame] = tracker.best_payloads.get(m) or []
            self.frames[m] = [f.image for f in kept]
            self.titles[m] = f"{m}: best cycle {c.index + 1} (frames {c.start}-{c.end}{rate})"
            card.thumbnail.set_image(self.frames[m][0] if kept else None)     # the cycle starts at its ED
            if m == "EF":
                ef = cycle_ef(best, kept) if best.approvals[m].feasible else math.nan
                card.value.setText(f"EF {ef:.0f} % (research use only)" if math.isfinite(ef) else "")
            card.badges.set_statuses(list(best.approvals[m].status), [names[r] for r in MEASUREMENTS[m].regions])
            card.reason.setText(explain(list(tracker.cycles), m, WALLS[self.view]))


class CycleReplay(QDialog):
    """Plays the frames of one cycle in a loop at the source's frame rate."""

    def __init__(self, title: str, frames: list[np.ndarray], fps: float, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.frames = [f for f in frames if f is not None]
        self.index = 0
        self.panel = ImagePanel("No frames kept for this cycle")
        layout = QVBoxLayout(self)
        layout.addWidget(self.panel)
        self.resize(520, 440)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.next_frame)
        if self.frames:
            self.panel.set_image(self.frames[0])
            self.timer.start(max(5, int(1000 / max(fps, 1.0))))

    def next_frame(self) -> None:
        self.index = (self.index + 1) % len(self.frames)
        self.panel.set_image(self.frames[self.index])

    def done(self, result: int) -> None:
        self.timer.stop()
        super().done(result)

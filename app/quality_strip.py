"""Quality over time: one row per region, coloured by its score over the last seconds."""
from __future__ import annotations

import time
from collections import deque

import numpy as np
from PyQt6.QtCore import QRectF, Qt
from PyQt6.QtGui import QColor, QFont, QPainter, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget

from echoquality.core.vocabulary import N_REGIONS, quality_category

from .anatomy import region_labels
from .quality_colours import category_colour, format_score

MAX_GAP_S = 0.5   # a sample is drawn until the next one, at most this long
REPAINT_S = 0.1
MARK_COLOURS = {"ED": QColor(255, 90, 80), "ES": QColor(90, 170, 255)}   # end-diastole, end-systole


class QualityHistory:
    """Regional scores of the last `seconds` of frame time (time going back clears it)."""

    def __init__(self, seconds: float = 10.0):
        self.seconds = seconds
        self._samples: deque[tuple[float, np.ndarray]] = deque()
        self._arrays: tuple[np.ndarray, np.ndarray] | None = None   # (times, scores) built once per change

    def add(self, time_s: float, scores: np.ndarray) -> None:
        if self._samples and time_s < self._samples[-1][0]:
            self.clear()
        self._samples.append((float(time_s), np.asarray(scores, np.float64).copy()))
        while self._samples and self._samples[0][0] < time_s - self.seconds:
            self._samples.popleft()
        self._arrays = None

    def clear(self) -> None:
        self._samples.clear()
        self._arrays = None

    def _built(self) -> tuple[np.ndarray, np.ndarray]:
        if self._arrays is None:
            self._arrays = (np.array([t for t, _ in self._samples], np.float64),
                            np.array([s for _, s in self._samples], np.float64).reshape(-1, N_REGIONS))
        return self._arrays

    def __len__(self) -> int:
        return len(self._samples)

    def latest(self) -> np.ndarray:
        """The newest sample's (8,) scores (NaN when empty)."""
        return self._samples[-1][1].copy() if self._samples else np.full(N_REGIONS, np.nan)

    @property
    def end_time(self) -> float | None:
        return self._samples[-1][0] if self._samples else None

    def times(self) -> np.ndarray:
        return self._built()[0].copy()

    def scores(self) -> np.ndarray:
        """(n, 8) scores, oldest first."""
        return self._built()[1].copy()

    def runs(self, region: int) -> list[tuple[float, float, int]]:
        """(start, end, category) stretches of one region (category 0: invalid), oldest first."""
        if not self._samples:
            return []
        times, scores = self._built()
        cats = quality_category(scores[:, region])
        ends = np.append(np.minimum(times[1:], times[:-1] + MAX_GAP_S), times[-1] + 1e-3)
        # a new run starts where the category changes or where a gap cut the previous sample short
        starts = np.flatnonzero(np.r_[True, (cats[1:] != cats[:-1]) | (ends[:-1] < times[1:])])
        stops = np.r_[starts[1:], len(times)] - 1
        return [(float(times[a]), float(ends[b]), int(cats[a])) for a, b in zip(starts, stops)]


class QualityStrip(QWidget):
    """The eight regional scores over the last seconds, with anatomical row names and the latest score."""

    ROW_HEIGHT = 17
    LABEL_WIDTH = 190
    VALUE_WIDTH = 44

    def __init__(self, seconds: float = 10.0, parent: QWidget | None = None):
        super().__init__(parent)
        self.history = QualityHistory(seconds)
        self.marks: deque[tuple[float, str]] = deque()     # (time_s, "ED" or "ES") of the cycles
        self.view = "a4c"
        self._painted = 0.0
        self.setMinimumHeight(self.ROW_HEIGHT * N_REGIONS + 26)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Regional quality over the last seconds (newest on the right)")

    def set_view(self, view: str) -> None:
        self.view = view
        self.update()

    def add(self, time_s: float, scores: np.ndarray) -> None:
        self.history.add(time_s, scores)
        now = time.monotonic()
        if now - self._painted >= REPAINT_S:     # ten repaints a second are plenty for a 10 s strip
            self._painted = now
            self.update()

    def add_mark(self, time_s: float, kind: str) -> None:
        """An end-diastole ("ED") or end-systole ("ES") at a frame's time (confirmed a little later)."""
        self.marks.append((float(time_s), kind))
        end = self.history.end_time
        while self.marks and end is not None and self.marks[0][0] < end - self.history.seconds:
            self.marks.popleft()

    def clear(self) -> None:
        self.history.clear()
        self.marks.clear()
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(18, 20, 24))
        font = QFont(self.font())
        font.setPixelSize(12)
        painter.setFont(font)
        top, row_h = 4, self.ROW_HEIGHT
        x0 = self.LABEL_WIDTH
        x1 = self.width() - self.VALUE_WIDTH - 6
        width = max(x1 - x0, 10)
        end = self.history.end_time
        latest = self.history.latest()
        names = region_labels(self.view)
        for r in range(N_REGIONS):
            y = top + r * row_h
            painter.setPen(QColor(200, 205, 212))
            painter.drawText(QRectF(6, y, x0 - 12, row_h), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                             names[r])
            painter.fillRect(QRectF(x0, y + 1, width, row_h - 2), QColor(32, 35, 41))
            if end is not None:
                for start, stop, cat in self.history.runs(r):
                    a = x0 + width * (1 - (end - start) / self.history.seconds)
                    b = x0 + width * (1 - (end - stop) / self.history.seconds)
                    a, b = max(a, x0), min(b, x0 + width)
                    if b > a:
                        painter.fillRect(QRectF(a, y + 1, max(b - a, 1.0), row_h - 2), category_colour(cat))
            painter.setPen(QColor(240, 242, 245) if not np.isnan(latest[r]) else QColor(150, 150, 150))
            painter.drawText(QRectF(x1 + 6, y, self.VALUE_WIDTH, row_h),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, format_score(latest[r]))
        axis_y = top + N_REGIONS * row_h + 2
        if end is not None:
            for t, kind in self.marks:
                x = x0 + width * (1 - (end - t) / self.history.seconds)
                if x0 <= x <= x0 + width:
                    painter.setPen(QPen(MARK_COLOURS.get(kind, QColor(200, 200, 200)), 1.5))
                    painter.drawLine(int(x), top, int(x), axis_y)
                    painter.drawText(QRectF(x - 12, axis_y + 4, 24, 14), Qt.AlignmentFlag.AlignCenter, kind)
        painter.setPen(QPen(QColor(120, 125, 135)))
        seconds = self.history.seconds
        step = 2 if seconds <= 12 else 5
        for s in np.arange(0, seconds + 1e-6, step):
            x = x0 + width * (1 - s / seconds)
            painter.drawLine(int(x), axis_y, int(x), axis_y + 4)
            text = "now" if s == 0 else f"−{s:g} s"
            painter.drawText(QRectF(x - 30, axis_y + 4, 60, 14), Qt.AlignmentFlag.AlignCenter, text)
        painter.end()

"""The quality read-outs beside the images: legend, global quality figure and per-region scores."""
from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QRectF, QSize, Qt
from PyQt6.QtGui import QColor, QFont, QPainter, QPainterPath
from PyQt6.QtWidgets import QSizePolicy, QWidget

from echoquality.core.vocabulary import N_REGIONS, QUALITY_CATEGORIES

from .anatomy import region_labels
from .quality_colours import (INVALID_NAME, category_colour, category_name, format_score, score_colour,
                              text_colour_on)


def _font(widget: QWidget, pixels: int, bold: bool = False) -> QFont:
    font = QFont(widget.font())
    font.setPixelSize(pixels)
    font.setBold(bold)
    return font


class QualityLegend(QWidget):
    """The five-colour scale (1 not visible .. 5 excellent) and the invalid colour, in one row."""

    ENTRIES = [(i + 1, name) for i, name in enumerate(QUALITY_CATEGORIES)] + [(0, INVALID_NAME)]

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(34)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setFont(_font(self, 14, bold=True))
        metrics = painter.fontMetrics()
        gap = 6
        widths = [metrics.horizontalAdvance(f"{c} {n}" if c else n) + 20 for c, n in self.ENTRIES]
        total = sum(widths) + gap * (len(widths) - 1)
        x = max(0.0, (self.width() - total) / 2)
        for (category, name), w in zip(self.ENTRIES, widths):
            box = QRectF(x, 4, w, self.height() - 8)
            colour = category_colour(category)
            path = QPainterPath()
            path.addRoundedRect(box, 5, 5)
            painter.fillPath(path, colour)
            painter.setPen(text_colour_on(colour))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, f"{category} {name}" if category else name)
            x += w + gap
        painter.end()


class GlobalQuality(QWidget):
    """The global quality figure: mean of the valid regional scores, its category and colour."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.score = float("nan")
        self.valid = 0
        self.stale = False
        self.setMinimumSize(200, 120)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def set_scores(self, scores: np.ndarray | None) -> None:
        if scores is None:
            self.score, self.valid = float("nan"), 0
        else:
            valid = scores[~np.isnan(scores)]
            self.valid = int(valid.size)
            self.score = float(valid.mean()) if valid.size else float("nan")
        self.update()

    def set_stale(self, stale: bool) -> None:
        """Stale: the figure belongs to an image that is no longer live (scanner lost or frozen)."""
        if stale != self.stale:
            self.stale = stale
            self.update()

    def sizeHint(self) -> QSize:
        return QSize(220, 120)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.stale:
            painter.setOpacity(0.4)
        colour = score_colour(self.score)
        box = QRectF(self.rect()).adjusted(2, 2, -2, -2)
        path = QPainterPath()
        path.addRoundedRect(box, 10, 10)
        painter.fillPath(path, QColor(28, 31, 37))
        painter.fillPath(_left_bar(box), colour)
        painter.setPen(QColor(170, 175, 185))
        painter.setFont(_font(self, 13, bold=True))
        painter.drawText(box.adjusted(18, 8, -8, 0), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
                         "GLOBAL QUALITY")
        painter.setPen(colour if not np.isnan(self.score) else QColor(150, 150, 150))
        painter.setFont(_font(self, 46, bold=True))
        painter.drawText(box.adjusted(18, 24, -8, -26), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         format_score(self.score))
        painter.setFont(_font(self, 15, bold=True))
        text = category_name(self.score) if not np.isnan(self.score) else "no valid region"
        text = "last image · not live" if self.stale else f"{text}  ·  {self.valid}/{N_REGIONS} regions"
        painter.drawText(box.adjusted(18, 0, -8, -8), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, text)
        painter.end()


def _left_bar(box: QRectF) -> QPainterPath:
    path = QPainterPath()
    path.addRoundedRect(QRectF(box.left(), box.top(), 8, box.height()), 4, 4)
    return path


class RegionScores(QWidget):
    """Per-region scores with the view's anatomical names (shown on demand)."""

    ROW = 26

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.view = "a4c"
        self.scores = np.full(N_REGIONS, np.nan)
        self.stale = False
        self.setMinimumWidth(200)
        self.setFixedHeight(self.ROW * N_REGIONS + 30)

    def set_view(self, view: str) -> None:
        self.view = view
        self.update()

    def set_scores(self, scores: np.ndarray | None) -> None:
        self.scores = np.full(N_REGIONS, np.nan) if scores is None else np.asarray(scores, np.float64)
        self.update()

    def set_stale(self, stale: bool) -> None:
        if stale != self.stale:
            self.stale = stale
            self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.stale:
            painter.setOpacity(0.4)
        painter.setPen(QColor(170, 175, 185))
        painter.setFont(_font(self, 13, bold=True))
        painter.drawText(QRectF(4, 0, self.width() - 8, 24), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         "REGIONS")
        painter.setFont(_font(self, 14))
        for i, (name, score) in enumerate(zip(region_labels(self.view), self.scores)):
            y = 28 + i * self.ROW
            colour = score_colour(score)
            swatch = QRectF(4, y + 4, 16, self.ROW - 8)
            painter.fillRect(swatch, colour)
            painter.setPen(QColor(225, 228, 232))
            painter.drawText(QRectF(28, y, self.width() - 80, self.ROW),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
            painter.setPen(QColor(240, 242, 245) if not np.isnan(score) else QColor(150, 150, 150))
            painter.drawText(QRectF(self.width() - 56, y, 52, self.ROW),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             format_score(score) if not np.isnan(score) else "invalid")
        painter.end()

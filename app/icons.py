"""Toolbar icons drawn with QPainter (light shapes that read on the dark theme)."""
from __future__ import annotations

from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap, QPolygonF

SIZE = 32
LIGHT = QColor(225, 228, 234)
RED = QColor(235, 70, 60)


def _polygon(points) -> QPolygonF:
    return QPolygonF([QPointF(x, y) for x, y in points])


def make_icon(kind: str, colour: QColor = LIGHT) -> QIcon:
    """Icon of a control: play, pause, step, loop, record, snapshot, full, open, connect, scores."""
    pixmap = QPixmap(SIZE, SIZE)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(colour, 2.6, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(colour)
    if kind == "play":
        p.drawPolygon(_polygon([(9, 6), (26, 16), (9, 26)]))
    elif kind == "pause":
        p.drawRoundedRect(QRectF(8, 6, 6, 20), 1.5, 1.5)
        p.drawRoundedRect(QRectF(18, 6, 6, 20), 1.5, 1.5)
    elif kind == "step":
        p.drawPolygon(_polygon([(7, 6), (21, 16), (7, 26)]))
        p.drawRoundedRect(QRectF(22, 6, 4, 20), 1, 1)
    elif kind == "record":
        p.setBrush(RED)
        p.drawEllipse(QRectF(7, 7, 18, 18))
    elif kind == "loop":
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(pen)
        p.drawArc(QRectF(6, 7, 20, 18), 60 * 16, 280 * 16)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(colour)
        p.drawPolygon(_polygon([(19, 3), (26, 8), (18, 12)]))
    elif kind == "snapshot":
        p.drawRoundedRect(QRectF(4, 10, 24, 16), 3, 3)
        p.drawRect(QRectF(11, 6, 10, 5))
        p.setBrush(QColor(30, 33, 40))
        p.drawEllipse(QRectF(11, 12, 10, 10))
    elif kind == "full":
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(pen)
        for x, y, dx, dy in ((6, 6, 1, 1), (26, 6, -1, 1), (6, 26, 1, -1), (26, 26, -1, -1)):
            path = QPainterPath(QPointF(x, y + 7 * dy))
            path.lineTo(x, y)
            path.lineTo(x + 7 * dx, y)
            p.drawPath(path)
    elif kind == "open":
        p.drawRoundedRect(QRectF(4, 9, 24, 17), 2, 2)
        p.drawRoundedRect(QRectF(4, 6, 10, 5), 1.5, 1.5)
    elif kind == "connect":
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(pen)
        for r in (5, 10, 15):
            p.drawArc(QRectF(16 - r, 24 - r, 2 * r, 2 * r), 45 * 16, 90 * 16)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(colour)
        p.drawEllipse(QRectF(13, 21, 6, 6))
    elif kind == "scores":
        for i, h in enumerate((10, 16, 22)):
            p.drawRoundedRect(QRectF(6 + i * 8, 27 - h, 5, h), 1, 1)
    p.end()
    return QIcon(pixmap)

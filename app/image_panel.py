"""An image panel: a numpy frame drawn as large as fits, with text overlays (walls, region scores, messages)."""
from __future__ import annotations

import sys
from dataclasses import dataclass

import cv2
import numpy as np
from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPainterPath, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget

from .quality_colours import text_colour_on


@dataclass
class Marker:
    """Text drawn at a point of the image (x, y as fractions of its width/height)."""
    x: float
    y: float
    text: str
    colour: QColor


# Score markers and corner labels drawn once and kept (texts "1.0".."5.0" and "×" in their colours, wall names).
MAX_SPRITES = 512


def resize_for_display(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`array` at (width, height) for the screen, cheaply: halved by pixel averaging while more than twice
    too large (an exact 2:1 area average is fast), then bilinear (INTER_AREA at odd ratios costs 5-15x more
    and the UI thread resizes every frame)."""
    w, h = size
    while array.shape[1] >= 2 * w and array.shape[0] >= 2 * h:
        array = cv2.resize(array, (array.shape[1] // 2, array.shape[0] // 2), interpolation=cv2.INTER_AREA)
    if (array.shape[1], array.shape[0]) == (w, h):
        return np.ascontiguousarray(array)
    return np.ascontiguousarray(cv2.resize(array, (w, h), interpolation=cv2.INTER_LINEAR))


def to_qimage(array: np.ndarray) -> QImage:
    """A QImage sharing the memory of an (H, W) uint8 or (H, W, 3) uint8 RGB array (keep the array alive)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    h, w = array.shape[:2]
    if array.ndim == 2:
        return QImage(array.data, w, h, array.strides[0], QImage.Format.Format_Grayscale8)
    return QImage(array.data, w, h, array.strides[0], QImage.Format.Format_RGB888)


def to_display_qimage(array: np.ndarray) -> tuple[np.ndarray, QImage]:
    """(pixels, QImage sharing them) of a grey or RGB uint8 array in the screen's own 32-bit layout, so that
    drawing it is a plain copy (Qt converts 8-bit grey or 24-bit RGB on every paint, on the UI thread)."""
    if sys.byteorder == "little":   # Format_RGB32 is 0xffRRGGBB per pixel: bytes B, G, R, X
        code = cv2.COLOR_GRAY2BGRA if array.ndim == 2 else cv2.COLOR_RGB2BGRA
        fmt = QImage.Format.Format_RGB32
    else:
        code = cv2.COLOR_GRAY2RGBA if array.ndim == 2 else cv2.COLOR_RGB2RGBA
        fmt = QImage.Format.Format_RGBX8888
    pixels = cv2.cvtColor(np.ascontiguousarray(array, dtype=np.uint8), code)
    h, w = pixels.shape[:2]
    return pixels, QImage(pixels.data, w, h, pixels.strides[0], fmt)


DisplayImage = tuple  # ((width, height), 32-bit pixels, QImage sharing them): a frame ready to blit


def prepare_display(array: np.ndarray, size: tuple[int, int]) -> DisplayImage:
    """`array` resized to `size` (width, height) in the screen's 32-bit layout, ready for `ImagePanel.set_image`.
    Any thread may call it (QImage is reentrant): the analysis worker does, so that the UI thread only blits."""
    return (tuple(size), *to_display_qimage(resize_for_display(array, size)))


def _canvas(width: int, height: int, font: QFont) -> tuple[QImage, QPainter]:
    """A transparent image and an antialiased painter on it with `font` (end the painter when done)."""
    image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setFont(font)
    return image, painter


class ImagePanel(QWidget):
    """Shows one frame, keeping its aspect ratio, with corner labels, markers and a message."""

    BACKGROUND = QColor(0, 0, 0)

    def __init__(self, placeholder: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self._array: np.ndarray | None = None
        self.placeholder = placeholder
        self.corner_left = ""
        self.corner_right = ""
        self.markers: list[Marker] = []
        self.message = ""
        self.message_colour = QColor(255, 200, 80)
        self.dimmed = False
        self._scaled: DisplayImage | None = None
        self.display_size: tuple[int, int] | None = None   # (width, height) the frame was last drawn at
        self._sprites: dict[tuple, QImage] = {}
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(240, 200)

    def set_image(self, array: np.ndarray | None, prepared: DisplayImage | None = None) -> None:
        """Show `array`; `prepared` (`prepare_display` of it) is used when drawn at its size."""
        self._array = None if array is None else np.ascontiguousarray(array, dtype=np.uint8)
        self._scaled = prepared
        self.update()

    def _display_image(self, target: QRectF) -> tuple[QImage, QRectF]:
        """The image resized to the drawn size (OpenCV, once per frame and size: a plain blit for Qt)."""
        w, h = max(1, round(target.width())), max(1, round(target.height()))
        self.display_size = (w, h)
        if self._scaled is None or self._scaled[0] != (w, h):
            self._scaled = prepare_display(self._array, (w, h))
        return self._scaled[2], QRectF(round(target.left()), round(target.top()), w, h)

    def has_image(self) -> bool:
        return self._array is not None

    def set_message(self, text: str, colour: QColor | None = None) -> None:
        self.message = text
        if colour is not None:
            self.message_colour = colour
        self.update()

    def image_rect(self) -> QRectF:
        """Where the image is drawn (aspect kept, centred)."""
        if self._array is None:
            return QRectF(self.rect())
        h, w = self._array.shape[:2]
        scale = min(self.width() / w, self.height() / h)
        dw, dh = w * scale, h * scale
        return QRectF((self.width() - dw) / 2, (self.height() - dh) / 2, dw, dh)

    def paintEvent(self, event) -> None:
        # PyQt holds the GIL through every painter call: fill only the margins the frame leaves, blit the frame
        # once, and draw texts from kept drawings (`_kept`) — the analysis threads wait while the UI paints.
        painter = QPainter(self)
        target = self.image_rect()
        if self._array is not None:
            image, target = self._display_image(target)
            self._fill_margins(painter, target)
            painter.drawImage(target.topLeft(), image)
            if self.dimmed:
                painter.fillRect(target, QColor(0, 0, 0, 140))
            self._draw_corners(painter, target)
            self._draw_markers(painter, target)
        else:
            painter.fillRect(self.rect(), self.BACKGROUND)
        if self._array is None and self.placeholder and not self.message:
            self._draw_centred(painter, self.placeholder, QColor(150, 155, 165), 18)
        if self.message:
            self._draw_centred(painter, self.message, self.message_colour, 20, boxed=True)
        painter.end()

    def _font(self, pixels: int, bold: bool = False) -> QFont:
        font = QFont(self.font())
        font.setPixelSize(pixels)
        font.setBold(bold)
        return font

    def _fill_margins(self, painter: QPainter, target: QRectF) -> None:
        """The background around the frame (the frame itself is drawn over, so it is not filled first)."""
        w, h = self.width(), self.height()
        left, top = int(target.left()), int(target.top())
        right, bottom = left + int(target.width()), top + int(target.height())
        for x, y, dx, dy in ((0, 0, w, top), (0, bottom, w, h - bottom), (0, top, left, bottom - top),
                             (right, top, w - right, bottom - top)):
            if dx > 0 and dy > 0:
                painter.fillRect(x, y, dx, dy, self.BACKGROUND)

    def _draw_corners(self, painter: QPainter, target: QRectF) -> None:
        size = max(13, min(20, int(target.height() / 32)))
        margin = size * 0.6
        if self.corner_left:
            painter.drawImage(QPointF(round(target.left() + margin), round(target.top() + margin)),
                              self._text_sprite(self.corner_left, size))
        if self.corner_right:
            sprite = self._text_sprite(self.corner_right, size)
            painter.drawImage(QPointF(round(target.right() - margin - sprite.width()), round(target.top() + margin)),
                              sprite)

    def _text_sprite(self, text: str, size: int) -> QImage:
        """A corner label (bold, light grey) drawn once per text and size, then blitted."""
        def render() -> QImage:
            font = self._font(size, bold=True)
            metrics = QFontMetricsF(font)
            sprite, painter = _canvas(int(np.ceil(metrics.horizontalAdvance(text))) + 2,
                                      int(np.ceil(metrics.height())) + 2, font)
            painter.setPen(QColor(235, 235, 235))
            painter.drawText(QRectF(1, 1, sprite.width() - 2, sprite.height() - 2),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, text)
            painter.end()
            return sprite
        return self._kept(("text", text, size), render)

    def _kept(self, key: tuple, render) -> QImage:
        """The drawing kept under `key`, rendered (`render()`) the first time; at most MAX_SPRITES are kept."""
        sprite = self._sprites.get(key)
        if sprite is None:
            if len(self._sprites) >= MAX_SPRITES:
                self._sprites.clear()
            sprite = self._sprites[key] = render()
        return sprite

    def _draw_markers(self, painter: QPainter, target: QRectF) -> None:
        if not self.markers:
            return
        size = max(12, min(18, int(target.height() / 36)))
        for marker in self.markers:
            if not (np.isfinite(marker.x) and np.isfinite(marker.y)):
                continue
            sprite = self._marker_sprite(marker.text, marker.colour, size)
            x = target.left() + marker.x * target.width() - sprite.width() / 2
            y = target.top() + marker.y * target.height() - sprite.height() / 2
            painter.drawImage(QPointF(round(x), round(y)), sprite)

    def _marker_sprite(self, text: str, colour: QColor, size: int) -> QImage:
        """A score marker (rounded box, outline, text) drawn once per text, colour and size, then blitted: the
        antialiased paths and text of eight markers cost the UI thread more than the frame itself."""
        def render() -> QImage:
            font = self._font(size, bold=True)
            w = QFontMetricsF(font).horizontalAdvance(text) + size * 0.8
            h = size * 1.45
            sprite, painter = _canvas(int(np.ceil(w)) + 4, int(np.ceil(h)) + 4, font)
            box = QRectF((sprite.width() - w) / 2, (sprite.height() - h) / 2, w, h)
            path = QPainterPath()
            path.addRoundedRect(box, h / 3, h / 3)
            painter.fillPath(path, colour)
            painter.setPen(QPen(QColor(0, 0, 0, 200), 1.5))
            painter.drawPath(path)
            painter.setPen(text_colour_on(colour))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
            painter.end()
            return sprite
        return self._kept(("marker", text, colour.rgba(), size), render)

    def _draw_centred(self, painter: QPainter, text: str, colour: QColor, size: int, boxed: bool = False) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setFont(self._font(size, bold=boxed))
        area = QRectF(self.rect()).adjusted(24, 24, -24, -24)
        flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
        if boxed:
            bound = painter.boundingRect(area, flags, text).adjusted(-16, -10, 16, 10)
            path = QPainterPath()
            path.addRoundedRect(bound, 8, 8)
            painter.fillPath(path, QColor(10, 12, 16, 215))
            painter.setPen(QPen(colour, 2))
            painter.drawPath(path)
        painter.setPen(colour)
        painter.drawText(area, flags, text)

"""The image panel: frames drawn with their own pixel values, at the panel's size."""
from __future__ import annotations

import numpy as np
import pytest

from app.image_panel import ImagePanel, to_display_qimage


@pytest.mark.parametrize("shape", [(90, 120), (90, 120, 3)])
def test_display_images_keep_every_pixel_value(qtbot, shape):
    array = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    pixels, image = to_display_qimage(array)
    rgb = array if array.ndim == 3 else np.repeat(array[..., None], 3, axis=2)
    for y, x in ((0, 0), (45, 60), (89, 119), (17, 101)):
        colour = image.pixelColor(x, y)
        assert (colour.red(), colour.green(), colour.blue()) == tuple(int(v) for v in rgb[y, x])


def test_the_panel_draws_the_frame_as_large_as_fits(qtbot):
    panel = ImagePanel()
    qtbot.addWidget(panel)
    panel.resize(400, 200)
    frame = np.zeros((100, 100, 3), np.uint8)
    frame[:, :50] = (200, 30, 10)
    panel.set_image(frame)
    shot = panel.grab().toImage()
    left, right = shot.pixelColor(int(shot.width() * 0.4), 100), shot.pixelColor(int(shot.width() * 0.6), 100)
    assert (left.red(), left.green(), left.blue()) == (200, 30, 10)
    assert (right.red(), right.green(), right.blue()) == (0, 0, 0)
    assert shot.pixelColor(10, 100).red() == 0          # outside the square image: background


def test_score_markers_are_drawn_where_their_regions_are_and_their_drawings_are_kept_within_bounds(qtbot):
    from PyQt6.QtGui import QColor

    from app.image_panel import MAX_SPRITES, Marker

    panel = ImagePanel()
    qtbot.addWidget(panel)
    panel.resize(300, 300)
    panel.set_image(np.full((100, 100), 90, np.uint8))
    panel.markers = [Marker(0.25, 0.25, "4.5", QColor(20, 200, 60))]
    shot = panel.grab().toImage()
    rgb = np.array([[shot.pixelColor(x, y).getRgb()[:3] for x in range(300)] for y in range(300)])
    green = (rgb[..., 1] > 150) & (rgb[..., 0] < 80)
    ys, xs = np.nonzero(green)
    assert green.sum() > 50 and abs(ys.mean() - 75) < 4 and abs(xs.mean() - 75) < 8
    for k in range(MAX_SPRITES + 100):                 # many distinct markers: the kept drawings stay bounded
        panel._marker_sprite(f"{k}", QColor(k % 255, 0, 0), 14)
    assert len(panel._sprites) <= MAX_SPRITES

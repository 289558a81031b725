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

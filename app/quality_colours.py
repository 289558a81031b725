"""The five-colour quality scale (echoquality.core.render) as Qt colours."""
from __future__ import annotations

import numpy as np
from PyQt6.QtGui import QColor

from echoquality.core.render import CATEGORY_COLOURS, INVALID_COLOUR
from echoquality.core.vocabulary import QUALITY_CATEGORIES, quality_category

INVALID_NAME = "invalid"


def category_colour(category: int) -> QColor:
    """Colour of category 1..5; the invalid colour for 0."""
    rgb = CATEGORY_COLOURS[category - 1] if 1 <= category <= 5 else INVALID_COLOUR
    return QColor(int(rgb[0]), int(rgb[1]), int(rgb[2]))


def score_colour(score: float) -> QColor:
    """Colour of a score (its category's colour; the invalid colour for NaN)."""
    return category_colour(int(quality_category(score)))


def category_name(score: float) -> str:
    """'not visible' .. 'excellent', or 'invalid' for NaN."""
    category = int(quality_category(score))
    return QUALITY_CATEGORIES[category - 1] if category else INVALID_NAME


def text_colour_on(background: QColor) -> QColor:
    """Black or white, whichever reads better on `background`."""
    luminance = 0.299 * background.red() + 0.587 * background.green() + 0.114 * background.blue()
    return QColor(20, 20, 20) if luminance > 140 else QColor(255, 255, 255)


def format_score(score: float) -> str:
    return "–" if np.isnan(score) else f"{score:.1f}"

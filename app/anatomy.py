"""Anatomical names of the walls and regions as the clinician reads them, per view."""
from __future__ import annotations

from echoquality.core.view import AUTO
from echoquality.core.vocabulary import REGION_NAMES, VIEWS, WALLS

VIEW_TITLES = {"a4c": "Apical 4-chamber", "a2c": "Apical 2-chamber", "alax": "Apical long axis"}
VIEW_SHORT = {"a4c": "A4C", "a2c": "A2C", "alax": "ALAX"}
assert set(WALLS) == set(VIEWS)
# What the user can choose: the view recognised per frame, or one given.
VIEW_CHOICES = (AUTO,) + VIEWS


def wall_names(view: str) -> tuple[str, str]:
    """(left wall, right wall) names of a view."""
    return WALLS[view]


def region_label(region: str, view: str) -> str:
    """The clinician's name of a region in a view, e.g. 'basal inferoseptal' or 'anterolateral annulus'."""
    left, right = WALLS[view]
    level, side = region.split("_")
    wall = left if side == "left" else right
    return f"{wall} annulus" if level == "annulus" else f"{level} {wall}"


def region_labels(view: str) -> list[str]:
    """Names of the eight regions of a view in the canonical order (types.REGION_NAMES)."""
    return [region_label(name, view) for name in REGION_NAMES]

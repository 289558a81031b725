"""<stem>_cycles.png: the LV area and each region's quality over the recording, ED/ES marked, the
best cycle per measurement shaded, each region's approval in that cycle, and the one-line reasons."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from echoquality.core.cycle_quality import (
    ANNULUS, APPROVED, APPROVED_MIN_SCORE, BORDERLINE, MEASUREMENTS, MYOCARDIAL, region_words,
)
from echoquality.core.render import CATEGORY_COLOURS
from echoquality.core.vocabulary import WALLS, quality_category
from echoquality.outputs.cycles_report import SourceCycles
from echoquality.outputs.results_csv import output_error

WIDTH, LEFT, RIGHT = 1400, 200, 20
AREA_H, ROW_H, TEXT_H = 130, 46, 22
ED_COLOUR, ES_COLOUR = (200, 40, 40), (40, 80, 210)              # RGB
SHADE = {"EF": (200, 235, 200), "MAPSE": (200, 225, 240)}
STATUS_COLOUR = {APPROVED: (40, 160, 60), BORDERLINE: (230, 170, 0)}
REJECTED_COLOUR = (210, 40, 40)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _x(frames: np.ndarray | int, n: int) -> np.ndarray:
    return LEFT + np.asarray(frames, dtype=np.float64) * (WIDTH - LEFT - RIGHT) / max(n - 1, 1)


def _text(img: np.ndarray, text: str, x: int, y: int, scale: float = 0.45, colour=(30, 30, 30)) -> None:
    cv2.putText(img, text, (int(x), int(y)), FONT, scale, colour, 1, cv2.LINE_AA)


def _polyline(img: np.ndarray, xs: np.ndarray, ys: np.ndarray, colour, colours: np.ndarray | None = None) -> None:
    """A line through the finite points; breaks at NaN; per-segment colours when given."""
    for k in range(len(xs) - 1):
        if np.isfinite(ys[k]) and np.isfinite(ys[k + 1]):
            c = tuple(int(v) for v in (colours[k] if colours is not None else colour))
            cv2.line(img, (int(xs[k]), int(ys[k])), (int(xs[k + 1]), int(ys[k + 1])), c, 2, cv2.LINE_AA)


def draw(found: SourceCycles) -> np.ndarray:
    """The picture as an RGB array."""
    n = max(found.n_frames, 2)
    sentences = list(found.sentences().values())
    height = 30 + AREA_H + 8 * ROW_H + 40 + TEXT_H * (len(sentences) + 1)
    img = np.full((height, WIDTH, 3), 255, np.uint8)
    top = 30
    rows_top = top + AREA_H
    rows_bottom = rows_top + 8 * ROW_H
    best = found.best
    # best cycles shaded: EF over the area and the myocardial rows, MAPSE over the annulus rows
    for m, (y0, y1) in {"EF": (top, rows_top + 6 * ROW_H), "MAPSE": (rows_top + 6 * ROW_H, rows_bottom)}.items():
        q = best[m]
        if q is not None and q.approvals[m].feasible:
            x0, x1 = _x([q.cycle.start, q.cycle.end], n)
            cv2.rectangle(img, (int(x0), y0), (int(x1), y1), SHADE[m], -1)
            _text(img, f"best {m} cycle", x0 + 4, y0 + 14, 0.45, (60, 110, 60))
    # LV area
    area = found.area
    finite = area[np.isfinite(area)]
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        span = max(hi - lo, 1e-9)
        ys = top + AREA_H - 10 - (area - lo) / span * (AREA_H - 25)
        _polyline(img, _x(np.arange(len(area)), n), ys, (60, 60, 60))
    _text(img, "LV area", 10, top + AREA_H // 2)
    # regions
    names = region_words(WALLS[found.view])
    rows = list(MYOCARDIAL) + list(ANNULUS)
    for row, r in enumerate(rows):
        y0 = rows_top + row * ROW_H
        cv2.line(img, (LEFT, y0), (WIDTH - RIGHT, y0), (220, 220, 220), 1)
        y_ok = y0 + ROW_H - 4 - (APPROVED_MIN_SCORE - 1) / 4 * (ROW_H - 8)
        cv2.line(img, (LEFT, int(y_ok)), (WIDTH - RIGHT, int(y_ok)), (200, 200, 200), 1)
        s = found.scores[:, r] if found.scores.size else np.zeros(0)
        ys = y0 + ROW_H - 4 - (np.clip(s, 1, 5) - 1) / 4 * (ROW_H - 8)
        cats = quality_category(s)
        colours = CATEGORY_COLOURS[np.clip(cats, 1, 5) - 1]
        _polyline(img, _x(np.arange(len(s)), n), ys, (0, 0, 0), colours)
        m = "MAPSE" if r in ANNULUS else "EF"
        q = best[m]
        status = q.approvals[m].status[MEASUREMENTS[m].regions.index(r)] if q is not None else None
        dot = STATUS_COLOUR.get(status, REJECTED_COLOUR) if status else (160, 160, 160)
        cv2.circle(img, (14, y0 + ROW_H // 2), 6, dot, -1)
        _text(img, names[r], 26, y0 + ROW_H // 2 + 5)
    # ED / ES marks
    for q in found.qualities:
        for f, colour, label in ((q.cycle.ed_frame, ED_COLOUR, "ED"), (q.cycle.es_frame, ES_COLOUR, "ES")):
            x = int(_x(f, n))
            cv2.line(img, (x, top), (x, rows_bottom), colour, 1)
            _text(img, f"{label} {f}", x - 14, top - 6, 0.4, colour)
    cv2.rectangle(img, (LEFT, top), (WIDTH - RIGHT, rows_bottom), (120, 120, 120), 1)
    y = rows_bottom + 24
    for k in range(0, n, max(10, n // 100 * 10)):
        _text(img, str(k), _x(k, n) - 8, rows_bottom + 14, 0.38)
    for line in sentences + ["Dots: approval in the best cycle (green approved, amber borderline, red rejected)."]:
        y += TEXT_H
        _text(img, line, 10, y, 0.5)
    return img


def write_plot(path: Path, found: SourceCycles) -> None:
    ok, data = cv2.imencode(".png", cv2.cvtColor(draw(found), cv2.COLOR_RGB2BGR))
    try:
        Path(path).write_bytes(data.tobytes())
    except OSError as error:
        Path(path).unlink(missing_ok=True)
        raise output_error(path, error) from None

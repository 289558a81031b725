"""Typed records passed between the parts: one `Frame` in, one `FrameResult` out per frame."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from echoquality.core.vocabulary import N_REGIONS


@dataclass
class Frame:
    """One B-mode frame as it came from a source."""
    image: np.ndarray                  # (H, W) uint8 grayscale
    index: int                         # 0-based within its source
    time_s: float                      # seconds since the source's first frame
    spacing: tuple[float, float]       # (sy, sx) mm per pixel
    source: str                        # the input as the user gave it
    spacing_known: bool = True
    timestamp: float | None = None     # sender's clock (live sources), seconds since epoch


@dataclass
class FrameResult:
    """Everything computed for one frame."""
    frame: Frame
    labels: np.ndarray | None = None           # (h, w) uint8 label map at network size
    region_map: np.ndarray | None = None       # (h, w) uint8, 0 none, 1..8
    lv_lumen: np.ndarray | None = None         # (h, w) bool, the LV lumen (the pixel metrics' background)
    scores: np.ndarray = field(default_factory=lambda: np.full(N_REGIONS, np.nan))
    method: str = ""
    view: str = "a4c"
    timings_ms: dict[str, float] = field(default_factory=dict)   # {stage: milliseconds spent on this frame}
    valid: np.ndarray | None = None            # (8,) bool, regions that could be scored
    split_screen: np.ndarray | None = None     # (H, 2W, 3) RGB rendering, when the chain was asked for it
    error: str | None = None                   # why this frame could not be analysed
    entered_at: float = 0.0                    # time.perf_counter() when the frame entered the chain

    @property
    def global_score(self) -> float:
        """Mean of the valid regional scores (NaN when none is valid)."""
        valid = self.scores[~np.isnan(self.scores)]
        return float(valid.mean()) if valid.size else float("nan")

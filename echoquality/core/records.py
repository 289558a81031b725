"""Typed records passed between the parts: one `Frame` in, one `FrameResult` out per frame."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from echoquality.core.framing import Framing, whole_frame_framing
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
    colour: np.ndarray | None = None   # colour-coded fraction per cell of a colour frame (gate.colour_map); None: grey
    declared_mode: str | None = None   # display mode the file declares (gate.declared_mode), e.g. "m_mode", or the
                                       # screen shows (a colour-flow scale: gate.colour_evidence)


@dataclass
class FrameResult:
    """Everything computed for one frame."""
    frame: Frame
    labels: np.ndarray | None = None           # (h, w) uint8 label map at network size
    region_map: np.ndarray | None = None       # (h, w) uint8, 0 none, 1..8
    lv_lumen: np.ndarray | None = None         # (h, w) bool, the LV lumen (the pixel metrics' background)
    scores: np.ndarray = field(default_factory=lambda: np.full(N_REGIONS, np.nan))
    method: str = ""
    view: str = "a4c"                          # a4c, a2c, alax (given or recognised) or other (recognised)
    status: str = "ok"                         # gate.STATUSES: ok, or why the frame got no scores
    view_confidence: float = float("nan")      # smoothed probability of the recognised view (NaN: view given)
    timings_ms: dict[str, float] = field(default_factory=dict)   # {stage: milliseconds spent on this frame}
    valid: np.ndarray | None = None            # (8,) bool, regions that could be scored
    split_screen: np.ndarray | None = None     # (H, 2W, 3) RGB rendering, when the chain was asked for it
    error: str | None = None                   # why this frame could not be analysed
    entered_at: float = 0.0                    # time.perf_counter() when the frame entered the chain
    framing: Framing | None = None             # where the network-size maps sit in the frame

    @property
    def network_spacing(self) -> tuple[float, float]:
        """(sy, sx) mm per pixel of the network-size maps (labels, regions)."""
        if self.framing is not None:
            return self.framing.network_spacing
        size = self.labels.shape[0] if self.labels is not None else 256
        return whole_frame_framing(self.frame.image.shape[:2], self.frame.spacing, size).network_spacing

    def at_frame_size(self, network_map: np.ndarray) -> np.ndarray:
        """A network-size map (labels, regions) at the frame's size, through this frame's framing."""
        shape = self.frame.image.shape[:2]
        framing = self.framing or whole_frame_framing(shape, self.frame.spacing, network_map.shape[0])
        return framing.to_frame(network_map)

    @property
    def reason(self) -> str:
        """Why the frame got no scores, in words for the screen ("" when scored)."""
        from echoquality.core.gate import REASONS
        return REASONS.get(self.status, self.status)

    @property
    def global_score(self) -> float:
        """Mean of the valid regional scores (NaN when none is valid)."""
        valid = self.scores[~np.isnan(self.scores)]
        return float(valid.mean()) if valid.size else float("nan")

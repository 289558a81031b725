"""FAST process object of the region division, and how regions travel between stages."""
from __future__ import annotations

import numpy as np

from .fast_bridge import Stage, to_fast, to_numpy
from .preprocess import network_spacing
from .regions import Landmarks, Regions, divide_myocardium
from .types import N_REGIONS


# --- FAST stage -------------------------------------------------------------------------------
# Between stages the regions travel as one image: 1..8 the regions, LUMEN the LV lumen (the
# metrics' background), with the validity and out-of-sector fractions in the frame data.
LUMEN = N_REGIONS + 1


def regions_to_fast(regions: Regions, like) -> "fast.Image":
    """The regions as a FAST image (see LUMEN) carrying `like`'s frame data."""
    image = regions.region_map.copy()
    image[regions.lv_lumen & (image == 0)] = LUMEN
    return to_fast(image, like, valid=" ".join(str(int(v)) for v in regions.valid),
                   out_of_sector=" ".join(f"{v:.4f}" for v in regions.out_of_sector))


def regions_from_fast(image) -> Regions:
    """The regions sent by `regions_to_fast` (landmarks are not carried)."""
    array = to_numpy(image)
    region_map = np.where(array <= N_REGIONS, array, 0).astype(np.uint8)
    pixels = np.bincount(region_map.ravel(), minlength=N_REGIONS + 1)[1:N_REGIONS + 1]
    return Regions(region_map=region_map, valid=np.array([v == "1" for v in image.getFrameData("valid").split()]),
                   pixels=pixels.astype(np.int64),
                   out_of_sector=np.array([float(v) for v in image.getFrameData("out_of_sector").split()]),
                   lv_lumen=array == LUMEN, landmarks=None)


class DivideMyocardium(Stage):
    """(label map, sector mask) → regions image; landmarks optionally smoothed over frames."""

    n_inputs = 2

    def __init__(self, view: str = "a4c", smoothing: float = 0.0):
        super().__init__()
        self.view, self.smoothing = view, smoothing
        self.previous: Landmarks | None = None

    def process(self, labels, sector):
        label_map = to_numpy(labels)
        frame_shape = tuple(int(v) for v in labels.getFrameData("frame_shape").split())
        frame_spacing = tuple(float(v) for v in labels.getFrameData("spacing").split())
        spacing = network_spacing(frame_shape, frame_spacing, label_map.shape[0])
        regions = divide_myocardium(label_map, spacing, to_numpy(sector).astype(bool), self.view,
                                    self.previous, self.smoothing)
        self.previous = regions.landmarks
        return (regions_to_fast(regions, labels),)

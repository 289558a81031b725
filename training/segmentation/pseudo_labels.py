"""Self-training sources: frames of real unlabelled loops labelled by an existing model, as the app labels them.

Each kept frame goes through the app's own path (fan framing, segmentation with mirror averaging, clean-up with
wall completion) and its label map is taken back to the frame, so the training's re-imaging treats it like a
labelled CAMUS frame. Frames whose labels lack the LV, MYO or LA are left out.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from echoquality.core.cleanup import LA, LV, MYO, clean_labels
from echoquality.core.fan import grayscale
from echoquality.core.framing import network_view
from echoquality.inference.registry import load_segmentation_model
from echoquality.sources.playback import open_source

from .augment import Source, source_of

log = logging.getLogger(__name__)


def pseudo_labelled(loop: str | Path, model, every: int) -> list[Source]:
    """Every `every`-th frame of `loop`, labelled by `model` (a registry segmentation model) as the app labels it."""
    sources, box = [], None
    for i, frame in enumerate(open_source(str(loop))):
        view = network_view(frame.image, frame.spacing, previous_box=box)
        box = view.framing.box
        if i % every:
            continue
        labels = clean_labels(model.predict(view.image[None, None].astype(np.float32))[0], view.sector)
        if not all((labels == k).any() for k in (LV, MYO, LA)):
            continue
        sources.append(source_of(grayscale(frame.image), view.framing.to_frame(labels)))
    log.info("%s: %d frames pseudo-labelled (every %d-th)", Path(loop).name, len(sources), every)
    return sources


def pseudo_sources(loops: list[str], model_name: str, every: int) -> list[Source]:
    """Pseudo-labelled frames of all `loops` (none when the list is empty)."""
    if not loops:
        return []
    model = load_segmentation_model(model_name)
    return [s for loop in loops for s in pseudo_labelled(loop, model, every)]

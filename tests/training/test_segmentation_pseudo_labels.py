"""Self-training sources: frames of the real bundled E95 loop labelled by the shipped model as the app labels them."""
from pathlib import Path

import numpy as np
import pytest

from echoquality.core.fan import find_fan, grayscale, polygon_mask
from echoquality.inference.registry import load_segmentation_model
from echoquality.sources.playback import open_source
from training.segmentation.augment import AugmentConfig, augment
from training.segmentation.pseudo_labels import pseudo_labelled, pseudo_sources

DEMO = Path(__file__).resolve().parents[2] / "data" / "samples" / "e95_a4c.mp4"


@pytest.fixture(scope="module")
def sources():
    return pseudo_labelled(DEMO, load_segmentation_model(), every=50)


def test_every_nth_frame_is_labelled_at_the_frame_size_with_each_structure(sources):
    frames = list(open_source(str(DEMO)))
    assert len(sources) == len(range(0, len(frames), 50))
    for source, frame in zip(sources, frames[::50]):
        assert source.labels.shape == source.image.shape == grayscale(frame.image).shape
        assert set(np.unique(source.labels)) == {0, 1, 2, 3}
        fan = polygon_mask(find_fan(source.image).hull, source.image.shape)
        assert fan[source.labels > 0].mean() > 0.99      # on the scanned fan, not on the screen around it


def test_pseudo_labelled_frames_go_through_the_training_augmentation(sources):
    image, labels = augment(sources[0], np.random.default_rng(0), AugmentConfig())
    assert image.shape == labels.shape == (256, 256)
    assert {1, 2, 3} <= set(np.unique(labels))


def test_no_loops_no_sources():
    assert pseudo_sources([], "camus_seg_lite", 8) == []

"""The one codec at the FAST boundary: every typed value comes back as it went in."""
from __future__ import annotations

import numpy as np

from echoquality.core.framing import framing_for
from echoquality.core.records import Frame
from echoquality.core.regions import divide_myocardium
from echoquality.core.vocabulary import N_REGIONS
from echoquality.streaming import codec
from tests.core.test_regions import heart


def test_frame_identity_survives_derived_images():
    frame = Frame(np.arange(12 * 16, dtype=np.uint8).reshape(12, 16), 7, 0.25, (0.3, 0.2), "loop.mp4", False, 1000.5)
    image = codec.frame_to_fast(frame, entered_at=12.5)
    framing = framing_for((2, 3, 10, 15), (12, 16), (0.3, 0.2))
    derived = codec.set_framing(codec.to_fast(np.zeros((4, 4), np.uint8), image), framing)
    tag = codec.frame_tag(derived)
    assert (tag.index, tag.time_s, tag.spacing, tag.timestamp, tag.entered_at) == (7, 0.25, (0.3, 0.2), 1000.5, 12.5)
    assert codec.framing_of(derived) == framing and codec.framing_of(image) is None
    back = codec.fast_to_frame(image)
    assert np.array_equal(back.image, frame.image) and back.source == "loop.mp4" and back.spacing_known is False


def test_regions_travel_with_the_lv_lumen_on_its_own_image():
    labels = heart()
    regions = divide_myocardium(labels, (0.6, 0.6))
    assert regions.valid.any() and regions.lv_lumen.any()
    like = codec.to_fast(labels)
    region_image, lumen_image = codec.regions_to_fast(regions, like)
    assert codec.to_numpy(region_image).max() <= N_REGIONS            # nothing but regions in the region map
    back = codec.regions_from_fast(region_image, lumen_image)
    assert np.array_equal(back.region_map, regions.region_map)
    assert np.array_equal(back.lv_lumen, regions.lv_lumen)
    assert np.array_equal(back.valid, regions.valid)
    assert np.array_equal(back.pixels, regions.pixels)
    assert np.allclose(back.out_of_sector, regions.out_of_sector, atol=1e-4, equal_nan=True)


def test_scores_keep_invalid_regions_as_nan():
    scores = np.array([1.0, np.nan, 2.25, 3.5, 4.75, 5.0, np.nan, 1.125])
    back = codec.scores_from_fast(codec.scores_to_fast(scores, codec.to_fast(np.zeros((2, 2), np.uint8))))
    assert back.dtype == np.float64 and np.array_equal(back, scores, equal_nan=True)


def test_timings_accumulate_and_markers_are_recognised():
    image = codec.to_fast(np.zeros((2, 2), np.uint8))
    codec.add_timing(image, "Preprocess", 1.5)
    derived = codec.to_fast(np.zeros((2, 2), np.uint8), image)
    codec.add_timing(derived, "Segment", 7.25)
    assert codec.timings(derived) == {"Preprocess": 1.5, "Segment": 7.25}
    error = codec.error_marker(derived, "Segment: broken")
    assert codec.frame_error(error) == "Segment: broken" and codec.frame_error(derived) is None
    assert codec.is_end_marker(codec.end_marker()) and not codec.is_end_marker(error)

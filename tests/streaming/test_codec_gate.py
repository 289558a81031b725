"""The gate's values cross FAST intact: the fan Preprocess found, the colour map, the verdicts."""
from __future__ import annotations

import numpy as np

from echoquality.core.fan import find_fan
from echoquality.core.records import Frame
from echoquality.streaming import codec
from tests.dicom_files import real_frames


def test_the_fan_the_colour_map_and_the_verdicts_round_trip():
    gray = real_frames(1)[0]
    fan = find_fan(gray)
    colour = np.arange(12, dtype=np.uint8).reshape(3, 4)
    image = codec.frame_to_fast(Frame(gray, 0, 0.0, (0.3, 0.3), "x", colour=colour, declared_mode="m_mode"))
    codec.set_fan(image, fan, "frame")
    back, framing = codec.fan_of(image)
    assert framing == "frame" and back.box == fan.box and back.frame_shape == fan.frame_shape
    assert np.allclose(back.hull, fan.hull, atol=0.01) and back.angle_deg == fan.angle_deg and back.fill == fan.fill
    assert np.allclose(back.apex, fan.apex)
    assert np.array_equal(codec.frame_colour(image), colour) and codec.frame_declared_mode(image) == "m_mode"
    codec.set_gate(image, codec.GateTag("not_apical", "other", 0.8))
    assert codec.gate_tag(image) == codec.GateTag("not_apical", "other", 0.8)
    final = codec.gate_tag(image, final=True)          # the final verdict has its own keys: not set yet
    assert (final.status, final.view) == ("ok", "a4c")

"""OpenIGTLink parsing without sockets, against messages encoded by pyigtl."""
from __future__ import annotations

import numpy as np
import pyigtl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from echoquality.sources.igtl import protocol as proto


def pyigtl_image(pixels: np.ndarray, spacing=(0.5, 0.25), device="Image", timestamp=1_700_000_000.25,
                 header_version=1, metadata=None) -> bytes:
    """Bytes of a pyigtl IMAGE message for (rows, cols[, comps]) pixels, spacing (sy, sx)."""
    voxels = pixels[None, ...]   # (k=1, j=rows, i=cols[, comps])
    matrix = np.diag([spacing[1], spacing[0], 1.0, 1.0])
    msg = pyigtl.ImageMessage(voxels, ijk_to_world_matrix=matrix, timestamp=timestamp, device_name=device)
    msg.header_version = header_version
    if metadata:
        msg.metadata = dict(metadata)
    return msg.pack()


def decode(raw: bytes) -> proto.ImageContent:
    header = proto.parse_header(raw[:proto.HEADER_SIZE])
    return proto.parse_image(proto.split_body(header, raw[proto.HEADER_SIZE:]).content)


# ----------------------------------------------------------------------------- CRC, time

def test_crc64_matches_the_ecma182_check_value():
    assert proto.crc64(b"123456789") == 0x6C40DF5F0B497347
    assert proto.crc64_reference(b"123456789") == 0x6C40DF5F0B497347
    assert proto.crc64(b"") == 0


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=300))
def test_crc64_fast_and_reference_agree(data):
    assert proto.crc64(data) == proto.crc64_reference(data)


def test_crc64_agrees_with_pyigtl_header():
    raw = pyigtl_image(np.arange(12, dtype=np.uint8).reshape(3, 4))
    assert proto.parse_header(raw[:58]).crc == proto.crc64(raw[58:])


@pytest.mark.parametrize("t", [1_700_000_000.0, 1_700_000_000.5, 1_234_567_890.123456])
def test_timestamp_round_trip(t):
    assert proto.decode_timestamp(proto.encode_timestamp(t)) == pytest.approx(t, abs=1e-6)
    assert proto.decode_timestamp(0) is None


# ----------------------------------------------------------------------------- header

def test_header_of_a_pyigtl_image():
    raw = pyigtl_image(np.zeros((3, 4), np.uint8), device="Image_Reference", timestamp=1_700_000_000.25)
    h = proto.parse_header(raw[:58])
    assert (h.version, h.type, h.device) == (1, "IMAGE", "Image_Reference")
    assert h.body_size == len(raw) - 58
    assert h.timestamp == pytest.approx(1_700_000_000.25, abs=1e-6)


def _header(version=1, mtype=b"IMAGE", device=b"Image", body_size=10) -> bytes:
    return proto._HEADER.pack(version, mtype, device, 0, body_size, 0)


@pytest.mark.parametrize("raw, problem", [
    (_header(version=0), "version"),
    (_header(version=9), "version"),
    (_header(mtype=b""), "TYPE"),
    (_header(mtype=b"I"), "TYPE"),
    (_header(mtype=b"IMA GE"), "TYPE"),
    (_header(mtype=b"IMAGE\x00\x00X"), "TYPE"),
    (_header(device=b"Im\x01age"), "DEVICE_NAME"),
    (_header(body_size=2**62), "BODY_SIZE"),
    (_header(version=2, body_size=4), "extended header"),
    (b"\x00\x01IMAGE", "58 bytes"),
])
def test_implausible_headers_are_refused(raw, problem):
    with pytest.raises(proto.ProtocolError, match=problem):
        proto.parse_header(raw)


def test_body_size_cap_is_configurable():
    raw = _header(body_size=1000)
    assert proto.parse_header(raw, max_body_bytes=1000).body_size == 1000
    with pytest.raises(proto.ProtocolError, match="BODY_SIZE"):
        proto.parse_header(raw, max_body_bytes=999)


def test_find_header_start_skips_garbage():
    good = pyigtl_image(np.zeros((2, 2), np.uint8))
    garbage = b"\x00\x01AB" + bytes(range(7, 200))   # a false start, then noise
    buf = garbage + good
    assert proto.find_header_start(buf, 0) == len(garbage)
    assert proto.find_header_start(b"noise without any start", 0) == len(b"noise without any start") - 2


# ----------------------------------------------------------------------------- IMAGE

def test_uint8_image_from_pyigtl():
    pixels = (np.arange(6 * 8).reshape(6, 8) * 3).astype(np.uint8)
    img = decode(pyigtl_image(pixels, spacing=(0.5, 0.25)))
    assert img.pixels.shape == (6, 8, 1)
    np.testing.assert_array_equal(img.pixels[:, :, 0], pixels)
    assert img.spacing == pytest.approx((0.5, 0.25))
    np.testing.assert_allclose(img.directions, np.eye(3))
    assert img.coordinate_system == "LPS"


@pytest.mark.parametrize("dtype", [np.uint16, np.float32, np.int16, np.int8])
def test_other_scalar_types_from_pyigtl(dtype):
    pixels = (np.arange(5 * 7).reshape(5, 7) * 2).astype(dtype)
    img = decode(pyigtl_image(pixels))
    np.testing.assert_array_equal(img.pixels[:, :, 0], pixels)


def test_plain_2d_array_from_pyigtl():
    """pyigtl sends a (H, W) array as a 1 x W x H volume: still one image, the right way up."""
    pixels = np.arange(6 * 8, dtype=np.uint8).reshape(6, 8)
    msg = pyigtl.ImageMessage(pixels, ijk_to_world_matrix=np.diag([1.0, 0.25, 0.5, 1.0]), device_name="Image")
    img = decode(msg.pack())
    np.testing.assert_array_equal(img.pixels[:, :, 0], pixels)
    assert img.spacing == pytest.approx((0.5, 0.25))


def test_slice_in_the_i_k_plane():
    pixels = np.arange(3 * 5, dtype=np.uint8).reshape(3, 5)
    img = proto.parse_image(proto.image_content(pixels, size=(5, 1, 3)))
    np.testing.assert_array_equal(img.pixels[:, :, 0], pixels)


def test_big_endian_pixels():
    pixels = np.array([[1, 256], [4095, 65535]], dtype=np.uint16)
    header = proto.parse_header(proto.build_message("IMAGE", "x", proto.image_content(pixels, endian=proto.ENDIAN_BIG))[:58])
    assert header.type == "IMAGE"
    img = proto.parse_image(proto.image_content(pixels, endian=proto.ENDIAN_BIG))
    np.testing.assert_array_equal(img.pixels[:, :, 0], pixels)
    assert img.pixels.dtype.isnative


def test_rgb_image_from_pyigtl():
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 200
    img = decode(pyigtl_image(rgb))
    assert img.pixels.shape == (4, 5, 3)
    gray = proto.to_display_gray(img.pixels)
    assert gray.shape == (4, 5) and gray.dtype == np.uint8
    assert np.all(gray == round(0.299 * 200))


def test_version2_header_with_metadata():
    pixels = np.arange(12, dtype=np.uint8).reshape(3, 4)
    raw = pyigtl_image(pixels, header_version=2, metadata={"Probe": "X5-1", "Depth": "16 cm"})
    h = proto.parse_header(raw[:58])
    assert h.version == 2
    body = proto.split_body(h, raw[58:])
    assert body.metadata == {"Probe": "X5-1", "Depth": "16 cm"}
    np.testing.assert_array_equal(proto.parse_image(body.content).pixels[:, :, 0], pixels)


def test_version2_built_here_matches_version1_content():
    content = proto.image_content(np.full((3, 3), 7, np.uint8))
    raw = proto.build_message("IMAGE", "d", content, version=3, metadata={"k": "v"}, message_id=5)
    h = proto.parse_header(raw[:58])
    body = proto.split_body(h, raw[58:])
    assert bytes(body.content) == content and body.metadata == {"k": "v"} and body.message_id == 5


def test_inconsistent_extended_header_is_refused():
    raw = bytearray(proto.build_message("IMAGE", "d", proto.image_content(np.zeros((2, 2), np.uint8)), version=2))
    raw[58 + 4:58 + 8] = (10**6).to_bytes(4, "big")   # metadata size larger than the body
    with pytest.raises(proto.ProtocolError, match="extended header"):
        proto.split_body(proto.parse_header(bytes(raw[:58])), bytes(raw[58:]))


@pytest.mark.parametrize("content, problem", [
    (proto.image_content(np.zeros((4, 4), np.float64)), "float64"),
    (proto.image_content(np.zeros((4, 4), np.int32)), "int32"),
    (proto.image_content(np.zeros((4, 4), np.uint8), scalar_type=99), "unknown scalar type"),
    (proto.image_content(np.zeros((4, 4), np.uint8), size=(0, 4, 1)), "zero-size"),
    (proto.image_content(np.zeros((4, 4), np.uint8), size=(4, 4, 2)), "3D volume"),
    (proto.image_content(np.zeros((4, 4, 2), np.uint8)), "2 components"),
    (proto.image_content(np.zeros((4, 4), np.uint8), size=(8, 8, 1)), "pixel bytes"),
    (proto.image_content(np.zeros((4, 4), np.uint8))[:40], "shorter than"),
    (b"", "shorter than"),
])
def test_unusable_images_are_rejected(content, problem):
    with pytest.raises(proto.UnsupportedImage, match=problem):
        proto.parse_image(content)


def test_subvolume_is_rejected():
    content = bytearray(proto.image_content(np.zeros((4, 4), np.uint8)))
    content[60:62] = (1).to_bytes(2, "big")   # DI = 1
    with pytest.raises(proto.UnsupportedImage, match="sub-volume"):
        proto.parse_image(bytes(content))


def test_display_gray_windows():
    u16 = np.array([[100, 1100], [600, 1100]], np.uint16)
    np.testing.assert_array_equal(proto.to_display_gray(u16[..., None]), [[0, 255], [128, 255]])
    f01 = np.array([[0.0, 1.0], [0.5, 0.25]], np.float32)   # already normalised: x255
    np.testing.assert_array_equal(proto.to_display_gray(f01), [[0, 255], [128, 64]])
    fwide = np.array([[-1.0, 3.0], [np.nan, np.inf]], np.float32)
    np.testing.assert_array_equal(proto.to_display_gray(fwide), [[0, 255], [64, 64]])
    assert not proto.to_display_gray(np.full((3, 3), 5, np.uint16)).any()
    np.testing.assert_array_equal(proto.to_display_gray(np.array([[-5, 100]], np.int8)), [[0, 200]])
    u8 = np.array([[1, 2]], np.uint8)
    out = proto.to_display_gray(u8)
    np.testing.assert_array_equal(out, u8)
    out[0, 0] = 9                                    # a writable copy
    assert u8[0, 0] == 1


def test_status_message():
    raw = proto.build_message("STATUS", "US", proto.status_content(13, 0, "NOT_READY", "frozen"))
    h = proto.parse_header(raw[:58])
    status = proto.parse_status(proto.split_body(h, raw[58:]).content)
    assert (status.code, status.error_name, status.message) == (13, "NOT_READY", "frozen")
    with pytest.raises(proto.ProtocolError):
        proto.parse_status(b"\x00\x01")


# ----------------------------------------------------------------------------- stream reader

def _frames(n: int) -> list[bytes]:
    return [pyigtl_image(np.full((6, 8), 10 * (k + 1), np.uint8), timestamp=1_700_000_000 + k) for k in range(n)]


def _values(items) -> list[int]:
    """First pixel of each decoded message (each test frame is one constant value)."""
    return [int(proto.parse_image(proto.split_body(m.header, m.body).content).pixels[0, 0, 0])
            for m in items if isinstance(m, proto.Message)]


def test_reader_byte_by_byte_gives_the_same_messages():
    stream = b"".join(_frames(3))
    reader = proto.MessageReader()
    items = [item for i in range(len(stream)) for item in reader.feed(stream[i:i + 1])]
    assert _values(items) == [10, 20, 30]
    assert reader.pending == 0


def test_reader_counts_one_corruption_per_garbage_run():
    a, b, c = _frames(3)
    rng = np.random.default_rng(1)
    stream = rng.integers(0, 256, 5000, dtype=np.uint8).tobytes() + a + rng.integers(0, 256, 3000, dtype=np.uint8).tobytes() + b + c
    items = proto.MessageReader().feed(stream)
    assert _values(items) == [10, 20, 30]
    assert sum(isinstance(i, proto.Corruption) for i in items) == 2


def test_reader_drops_bad_crc_and_keeps_the_next():
    a, b, c = _frames(3)
    bad = bytearray(b)
    bad[-1] ^= 0xFF
    items = proto.MessageReader().feed(a + bytes(bad) + c)
    assert _values(items) == [10, 30]
    assert [i.reason for i in items if isinstance(i, proto.Corruption)][0].startswith("CRC mismatch")


def test_reader_recovers_the_message_after_a_truncated_one():
    a, b, c = _frames(3)
    truncated = b[:58 + (len(b) - 58) // 2]
    items = proto.MessageReader().feed(a + truncated + c)
    assert _values(items) == [10, 30]
    assert sum(isinstance(i, proto.Corruption) for i in items) == 1


def test_reader_refuses_huge_body_without_buffering_it():
    a, b = _frames(2)
    huge = proto.build_message("IMAGE", "Image", b"x" * 100, body_size=2**40)
    reader = proto.MessageReader(max_body_bytes=1 << 20)
    items = reader.feed(a + huge + b)
    assert _values(items) == [10, 20]
    assert any(isinstance(i, proto.Corruption) and "BODY_SIZE" in i.reason for i in items)
    assert reader.pending == 0


def test_reader_discard_reports_an_unfinished_message():
    a, = _frames(1)
    reader = proto.MessageReader()
    assert reader.feed(a[:100]) == []
    assert isinstance(reader.discard(), proto.Corruption)
    assert reader.pending == 0 and reader.discard() is None


def test_reader_can_skip_crc_of_ignored_messages():
    a, = _frames(1)
    bad = bytearray(a)
    bad[-1] ^= 0xFF
    items = proto.MessageReader(should_check_crc=lambda h: False).feed(bytes(bad))
    assert len(items) == 1 and isinstance(items[0], proto.Message)

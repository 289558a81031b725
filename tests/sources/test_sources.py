"""Replay sources: every supported format, its frame rate and spacing, and every kind of bad input."""
from __future__ import annotations

import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from echoquality.sources.playback import SourceError, open_source, source_stem
from echoquality.core.vocabulary import DEFAULT_DEPTH_MM


def frames_of(spec, **kwargs):
    return list(open_source(str(spec), **kwargs))


def test_demo_loop_is_grayscale_at_its_frame_rate(demo_loop):
    source = open_source(str(demo_loop))
    frames = list(source)
    assert len(frames) == 195
    assert frames[0].image.shape == (588, 634) and frames[0].image.dtype == np.uint8
    assert source.fps == pytest.approx(60.3, abs=0.1)
    assert frames[10].time_s == pytest.approx(10 / source.fps)
    assert [f.index for f in frames[:3]] == [0, 1, 2]
    # Unknown spacing: the documented default (frame height spans DEFAULT_DEPTH_MM).
    assert not frames[0].spacing_known
    assert frames[0].spacing == pytest.approx((DEFAULT_DEPTH_MM / 588,) * 2)


def test_fps_and_spacing_overrides(demo_loop):
    source = open_source(str(demo_loop), fps=20, spacing=(0.3, 0.25))
    frame = next(iter(source))
    second = next(iter(source), None)
    assert source.fps == 20
    assert frame.spacing == (0.3, 0.25) and frame.spacing_known
    assert second is not None


def test_looping_restarts_the_file(tmp_path):
    path = tmp_path / "three.npy"
    np.save(path, np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5))
    source = open_source(str(path), fps=10, loop=True)
    frames = []
    for frame in source:
        frames.append(frame)
        if len(frames) == 7:
            source.close()
    assert len(frames) == 7
    assert np.array_equal(frames[3].image, frames[0].image)
    assert frames[6].time_s == pytest.approx(0.6)


def test_rgb_video_becomes_grayscale(tmp_path):
    path = tmp_path / "colour.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 48))
    for i in range(5):
        frame = np.zeros((48, 64, 3), np.uint8)
        frame[..., 2] = 200  # red in BGR
        writer.write(frame)
    writer.release()
    source = open_source(str(path))
    frames = list(source)
    assert len(frames) == 5 and source.fps == pytest.approx(25)
    assert frames[0].image.ndim == 2
    assert abs(int(frames[0].image[24, 32]) - round(0.299 * 200)) <= 6


@pytest.mark.parametrize("shape", [(4, 30, 40), (4, 1, 30, 40), (30, 40)])
def test_numpy_shapes(tmp_path, shape):
    path = tmp_path / "a.npy"
    np.save(path, np.full(shape, 7, np.uint8))
    frames = frames_of(path)
    assert len(frames) == (1 if len(shape) == 2 else 4)
    assert frames[0].image.shape == (30, 40) and frames[0].image[0, 0] == 7


def test_numpy_float_in_unit_range_is_scaled(tmp_path):
    path = tmp_path / "f.npy"
    np.save(path, np.full((2, 10, 10), 0.5, np.float32))
    assert frames_of(path)[0].image[0, 0] == 128


def test_single_image_is_frame_zero(tmp_path):
    path = tmp_path / "still.png"
    cv2.imwrite(str(path), np.full((20, 30), 99, np.uint8))
    frames = frames_of(path)
    assert len(frames) == 1 and frames[0].index == 0 and frames[0].image[5, 5] == 99


def _write_dicom(path: Path, frames: np.ndarray, frame_time_ms: float | None = 20.0, region_spacing_cm=(0.03, 0.04)):
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.dataset import Dataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.3.1"  # US multi-frame
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "US"
    ds.Rows, ds.Columns = frames.shape[1:]
    ds.NumberOfFrames = frames.shape[0]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    if frame_time_ms:
        ds.FrameTime = frame_time_ms
    if region_spacing_cm:
        region = Dataset()
        region.PhysicalUnitsXDirection = 3
        region.PhysicalUnitsYDirection = 3
        region.PhysicalDeltaX = region_spacing_cm[1]
        region.PhysicalDeltaY = region_spacing_cm[0]
        ds.SequenceOfUltrasoundRegions = Sequence([region])
    ds.PixelData = frames.astype(np.uint8).tobytes()
    ds.save_as(str(path), enforce_file_format=True)


def test_dicom_multiframe_with_frame_time_and_spacing(tmp_path):
    path = tmp_path / "loop.dcm"
    data = np.stack([np.full((32, 48), i * 10, np.uint8) for i in range(6)])
    _write_dicom(path, data)
    source = open_source(str(path))
    frames = list(source)
    assert len(frames) == 6 and frames[3].image[0, 0] == 30
    assert source.fps == pytest.approx(50)
    assert frames[2].time_s == pytest.approx(0.04)
    assert frames[0].spacing == pytest.approx((0.3, 0.4)) and frames[0].spacing_known


def _write_mhd(path: Path, array: np.ndarray, spacing=(0.5, 0.25), compressed=False):
    raw = array.astype(np.uint8).tobytes()
    if compressed:
        raw = zlib.compress(raw)
    dims = " ".join(str(d) for d in array.shape[::-1])
    header = (f"ObjectType = Image\nNDims = {array.ndim}\nDimSize = {dims}\n"
              f"ElementSpacing = {spacing[1]} {spacing[0]}{' 1' if array.ndim == 3 else ''}\n"
              f"ElementType = MET_UCHAR\nCompressedData = {compressed}\n"
              f"ElementDataFile = {path.with_suffix('.raw').name}\n")
    path.write_text(header)
    path.with_suffix(".raw").write_bytes(raw)


def test_metaimage_single_and_numbered_sequence(tmp_path):
    _write_mhd(tmp_path / "one.mhd", np.full((20, 30), 5, np.uint8))
    single = frames_of(tmp_path / "one.mhd")
    assert len(single) == 1 and single[0].spacing == (0.5, 0.25)
    for i in (0, 1, 2, 10):
        _write_mhd(tmp_path / f"US-2D_{i}.mhd", np.full((20, 30), i, np.uint8), compressed=i == 1)
    frames = frames_of(tmp_path / "US-2D_#.mhd")
    assert [int(f.image[0, 0]) for f in frames] == [0, 1, 2, 10]
    assert source_stem(str(tmp_path / "US-2D_#.mhd")) == "US-2D_"


def test_metaimage_volume_is_a_sequence(tmp_path):
    _write_mhd(tmp_path / "vol.mhd", np.stack([np.full((8, 9), i, np.uint8) for i in range(4)]))
    assert [int(f.image[0, 0]) for f in frames_of(tmp_path / "vol.mhd")] == [0, 1, 2, 3]


# --- bad input: one clear message naming the input ----------------------------------------------

def _bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    empty_video = tmp_path / "empty.mp4"
    cv2.VideoWriter(str(empty_video), cv2.VideoWriter_fourcc(*"mp4v"), 30, (64, 48)).release()
    not_video = tmp_path / "text.mp4"
    not_video.write_text("this is not a video")
    corrupt_dicom = tmp_path / "corrupt.dcm"
    corrupt_dicom.write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x10\x00garbage")
    wrong_shape = tmp_path / "wrong.npy"
    np.save(wrong_shape, np.zeros((2, 3, 4, 5, 6), np.uint8))
    empty_array = tmp_path / "none.npy"
    np.save(empty_array, np.zeros((0, 10, 10), np.uint8))
    not_npy = tmp_path / "broken.npy"
    not_npy.write_bytes(b"nope")
    unsupported = tmp_path / "notes.txt"
    unsupported.write_text("hello")
    bad_png = tmp_path / "bad.png"
    bad_png.write_bytes(b"\x89PNG broken")
    mhd_without_data = tmp_path / "lost.mhd"
    mhd_without_data.write_text("NDims = 2\nDimSize = 4 4\nElementType = MET_UCHAR\nElementDataFile = lost.raw\n")
    return {
        "missing": (tmp_path / "nowhere.mp4", "not found"),
        "empty video": (empty_video, "no frames"),
        "not a video": (not_video, "cannot open"),
        "corrupt dicom": (corrupt_dicom, "DICOM"),
        "wrong shape": (wrong_shape, "shape"),
        "empty array": (empty_array, "no frames"),
        "not npy": (not_npy, ".npy"),
        "unsupported": (unsupported, "unsupported"),
        "undecodable image": (bad_png, "decode"),
        "mhd data missing": (mhd_without_data, "missing"),
    }


@pytest.mark.parametrize("case", ["missing", "empty video", "not a video", "corrupt dicom", "wrong shape",
                                  "empty array", "not npy", "unsupported", "undecodable image", "mhd data missing"])
def test_bad_input_raises_one_clear_message(tmp_path, case):
    path, words = _bad_inputs(tmp_path)[case]
    with pytest.raises(SourceError) as raised:
        frames_of(path)
    message = str(raised.value)
    assert str(path) in message and words in message
    assert "\n" not in message and "Traceback" not in message

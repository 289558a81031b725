"""Hostile and careless files: one SourceError line each, nothing read outside what was asked,
nothing allocated beyond the caps (echoquality/sources/limits.py), no hang on a FIFO."""
from __future__ import annotations

import os
import struct
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest

from echoquality.sources.base import SourceError
from echoquality.sources.files import read_recording
from echoquality.sources.limits import MAX_FILE_BYTES, MAX_FRAME_PIXELS
from echoquality.sources.playback import open_source


def frames_of(path: Path) -> list:
    return list(read_recording(path).frames)


def refused(path: Path, *words: str) -> str:
    """The one-line reason `path` is refused; it names the file and each of `words`."""
    with pytest.raises(SourceError) as caught:
        frames_of(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message, message
    for word in words:
        assert word in message, message
    return message


def mhd(folder: Path, name: str, lines: dict[str, str], data: bytes | None = b"\0" * 16) -> Path:
    header = {"ObjectType": "Image", "NDims": "2", "DimSize": "4 4", "ElementType": "MET_UCHAR",
              "ElementDataFile": f"{Path(name).stem}.raw"}
    header.update(lines)
    header["ElementDataFile"] = header.pop("ElementDataFile")   # the last field, as the format requires
    path = folder / name
    path.write_text("".join(f"{k} = {v}\n" for k, v in header.items()))
    if data is not None and header["ElementDataFile"] != "LOCAL":
        (folder / f"{Path(name).stem}.raw").write_bytes(data)
    return path


# --- class 1: lying or malformed headers are one line ----------------------------------------------------

@pytest.mark.parametrize("lines, words", [
    ({"DimSize": "-4 4"}, ["DimSize", "positive"]),
    ({"DimSize": "4 0"}, ["DimSize", "positive"]),
    ({"DimSize": "99999999999999999999 99999999999999999999"}, ["exceeds the limit"]),
    ({"DimSize": "4 4 99999999999999999999"}, ["exceed"]),
    ({"DimSize": "four 4"}, ["DimSize", "numbers"]),
    ({"ElementNumberOfChannels": "-3"}, ["ElementNumberOfChannels"]),
    ({"ElementNumberOfChannels": "99999999999"}, ["ElementNumberOfChannels"]),
    ({"ElementSpacing": "0.3 abc"}, ["ElementSpacing", "numbers"]),
    ({"ElementType": "MET_WHATEVER"}, ["ElementType"]),
    ({"DimSize": "4"}, ["1-D"]),
])
def test_metaimage_header_lies_are_one_line(tmp_path, lines, words):
    refused(mhd(tmp_path, "lie.mhd", lines), *words)


def test_metaimage_local_data_without_newline_is_one_line(tmp_path):
    path = tmp_path / "local.mhd"
    path.write_bytes(b"NDims = 2\nDimSize = 4 4\nElementType = MET_UCHAR\nElementDataFile = LOCAL")
    refused(path, "LOCAL")


def test_metaimage_local_data_is_read(tmp_path):
    path = tmp_path / "local.mhd"
    path.write_bytes(b"NDims = 2\nDimSize = 4 4\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n"
                     + bytes(range(16)))
    assert frames_of(path)[0].image.tolist()[1] == [4, 5, 6, 7]


def test_image_header_claiming_a_huge_frame_is_refused_before_decoding(tmp_path):
    """A 1 kB PNG whose header claims 100000 x 100000 pixels, and a real 8200 x 8 PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    huge = tmp_path / "huge.png"
    huge.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))
    refused(huge, "10000000000 pixels", "limit")
    import cv2
    wide = tmp_path / "wide.png"
    cv2.imwrite(str(wide), np.zeros((8, 8200), np.uint8))
    refused(wide, "8x8200", "limit")


@pytest.mark.parametrize("shape", [(3, 16, 0), (3, 0, 16), (2, 1, 16)])
def test_numpy_without_pixels_is_one_line(tmp_path, shape):
    path = tmp_path / "empty.npy"
    np.save(path, np.zeros(shape, np.uint8))
    refused(path, "not a 2-D image")


def test_numpy_of_nan_is_black_frames_without_warnings(tmp_path, recwarn):
    path = tmp_path / "nan.npy"
    np.save(path, np.full((2, 8, 8), np.nan, np.float32))
    assert all(f.image.max() == 0 for f in frames_of(path))
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


# --- class 2: a FIFO or a device is refused without being opened ------------------------------------------

@pytest.mark.parametrize("suffix", [".mp4", ".npy", ".png", ".mhd", ".dcm", ".nii"])
def test_fifo_is_refused_without_blocking(tmp_path, suffix):
    fifo = tmp_path / f"pipe{suffix}"
    os.mkfifo(fifo)
    outcome: list = []
    worker = threading.Thread(target=lambda: outcome.append(_reason(fifo)), daemon=True)
    worker.start()
    worker.join(30)
    if worker.is_alive():   # unblock the reader so that the test process can end
        open(fifo, "wb").close()
        pytest.fail(f"{fifo} blocked the reader")
    assert outcome and "FIFO" in outcome[0] and str(fifo) in outcome[0]


def _reason(path: Path) -> str:
    try:
        frames_of(path)
    except SourceError as error:
        return str(error)
    return "accepted"


def test_device_is_refused(tmp_path):
    link = tmp_path / "zero.npy"
    link.symlink_to("/dev/zero")
    refused(link, "device")


def test_fifo_data_file_of_a_metaimage_is_refused(tmp_path):
    path = mhd(tmp_path, "f.mhd", {}, data=None)
    os.mkfifo(tmp_path / "f.raw")
    refused(path, "FIFO")


# --- class 3: nothing read outside what was asked, nothing beyond the caps ----------------------------------

@pytest.mark.parametrize("data_file", ["/etc/passwd", "/proc/self/environ", "../secret.raw", "sub/../../secret.raw",
                                       "/dev/zero"])
def test_metaimage_data_file_is_confined_to_its_folder(tmp_path, data_file):
    folder = tmp_path / "case"
    folder.mkdir()
    (tmp_path / "secret.raw").write_bytes(b"S" * 16)
    message = refused(mhd(folder, "escape.mhd", {"ElementDataFile": data_file}, data=None), "ElementDataFile")
    assert "header's folder" in message and "missing" not in message


def test_metaimage_symlinked_data_file_leading_outside_is_refused(tmp_path):
    folder = tmp_path / "case"
    folder.mkdir()
    (tmp_path / "secret.raw").write_bytes(b"S" * 16)
    (folder / "link.raw").symlink_to(tmp_path / "secret.raw")
    refused(mhd(folder, "link.mhd", {"ElementDataFile": "link.raw"}, data=None), "outside")


def test_metaimage_data_file_in_a_subfolder_is_read(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.raw").write_bytes(bytes(range(16)))
    path = mhd(tmp_path, "x.mhd", {"ElementDataFile": "data/x.raw"}, data=None)
    assert frames_of(path)[0].image[3, 3] == 15


def test_zlib_bomb_inflates_no_further_than_the_header_needs(tmp_path):
    """64 kB of zlib that inflates to 64 MB: only the 16 bytes the header asks for are inflated."""
    import tracemalloc
    data = zlib.compress(b"\0" * (64 << 20), 9)
    path = mhd(tmp_path, "bomb.mhd", {"CompressedData": "True"}, data=data)
    tracemalloc.start()
    try:
        frames = frames_of(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert frames[0].image.shape == (4, 4) and peak < 4 << 20


def test_small_header_over_a_huge_data_file_reads_only_what_it_needs(tmp_path):
    path = mhd(tmp_path, "big.mhd", {}, data=None)
    with open(tmp_path / "big.raw", "wb") as f:   # sparse: 12 GB claimed on disk, nothing written
        f.truncate(12 * 1024 ** 3)
    assert frames_of(path)[0].image.shape == (4, 4)


def test_metaimage_volume_beyond_the_byte_cap_is_refused_before_reading(tmp_path):
    n = MAX_FILE_BYTES // MAX_FRAME_PIXELS + 1
    path = mhd(tmp_path, "many.mhd", {"NDims": "3", "DimSize": f"4096 4096 {n}"}, data=b"")
    refused(path, "exceed", str(MAX_FILE_BYTES))


def test_numpy_frame_beyond_the_pixel_cap_is_refused(tmp_path):
    path = tmp_path / "wide.npy"
    with open(path, "wb") as f:   # a header for (1, 5000, 5000) uint8 over a sparse file
        np.lib.format.write_array_header_1_0(f, {"descr": "|u1", "fortran_order": False, "shape": (1, 5000, 5000)})
        f.truncate(f.tell() + 5000 * 5000)
    refused(path, "5000x5000", "limit")


# --- frame rates and times from files ----------------------------------------------------------------------

def _dicom(path: Path, frame_time: str, frames: int = 3) -> Path:
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.3.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.Rows, ds.Columns, ds.NumberOfFrames, ds.SamplesPerPixel = 8, 8, frames, 1
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.FrameTime = frame_time
    ds.PixelData = np.arange(frames * 64, dtype=np.uint8).tobytes()
    ds.save_as(str(path), enforce_file_format=True)
    return path


@pytest.mark.parametrize("frame_time", ["0.0000000001", "-20", "1e308"])
def test_dicom_frame_time_that_makes_no_sense_is_ignored(tmp_path, frame_time):
    source = open_source(str(_dicom(tmp_path / "t.dcm", frame_time)))
    times = [f.time_s for f in source]
    assert source.fps == 30.0 and times == pytest.approx([0, 1 / 30, 2 / 30])


def test_dicom_frame_time_is_used(tmp_path):
    source = open_source(str(_dicom(tmp_path / "t.dcm", "20")))
    assert source.fps == pytest.approx(50.0) and [f.time_s for f in source] == pytest.approx([0, 0.02, 0.04])


def test_dicom_claiming_huge_frames_is_refused_before_decoding(tmp_path):
    import pydicom
    path = _dicom(tmp_path / "h.dcm", "20")
    ds = pydicom.dcmread(str(path))
    ds.Rows, ds.Columns, ds.NumberOfFrames = 60000, 60000, 1000
    ds.save_as(str(path))
    refused(path, "60000x60000", "limit")


def test_regions_command_refuses_fifos_and_huge_masks_before_decoding(tmp_path):
    from echoquality.commands.regions import MaskError, read_label_map
    fifo = tmp_path / "mask.png"
    os.mkfifo(fifo)
    with pytest.raises(MaskError, match="FIFO"):
        read_label_map(str(fifo))
    import cv2
    wide = tmp_path / "wide.png"
    cv2.imwrite(str(wide), np.zeros((4, 9000), np.uint8))
    with pytest.raises(MaskError, match="exceeds the limit"):
        read_label_map(str(wide))


@pytest.mark.parametrize("spacing", ["1e-300 1e-300", "1e9 0.3", "inf 0.3"])
def test_implausible_spacing_in_a_file_is_taken_as_unknown(tmp_path, spacing):
    from echoquality.core.vocabulary import default_spacing
    source = open_source(str(mhd(tmp_path, "s.mhd", {"ElementSpacing": spacing})))
    frame = next(iter(source))
    assert not source.spacing_known and frame.spacing == default_spacing(4)


def test_zero_byte_file_says_it_is_empty(tmp_path):
    for name in ("empty.mp4", "empty.npy", "empty.png", "empty.dcm", "empty.mhd"):
        (tmp_path / name).write_bytes(b"")
        refused(tmp_path / name, "empty")

"""NIfTI recordings: real GE loop, written 2-D and 2-D+t files, and bad ones."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

nibabel = pytest.importorskip("nibabel")

from echoquality.sources.files import SourceError  # noqa: E402
from echoquality.sources.playback import open_source  # noqa: E402

ECHOTK = Path(__file__).resolve().parents[3] / "shared" / "data" / "loops" / "echotk_a4c.nii.gz"


def write(path: Path, array: np.ndarray, zooms: tuple[float, ...], time_unit: str = "unknown") -> Path:
    image = nibabel.Nifti1Image(array, np.diag([*zooms[:3], 1.0][:4]) if len(zooms) >= 3 else np.eye(4))
    image.header.set_zooms(zooms)
    image.header.set_xyzt_units("mm", time_unit)
    nibabel.save(image, str(path))
    return path


def test_the_real_ge_loop_reads_as_20_frames_with_its_spacing():
    if not ECHOTK.is_file():
        pytest.skip("echotk loop not present")
    source = open_source(str(ECHOTK))
    frames = list(source)
    assert len(frames) == 20 == source.n_frames
    assert frames[0].image.shape == (480, 560) and frames[0].image.dtype == np.uint8     # y rows, x columns
    assert frames[0].spacing == pytest.approx((0.4, 0.4)) and source.spacing_known
    assert frames[0].image.max() >= 250 and frames[0].image[:20, :20].max() < 10          # black corner kept black


def test_a_2d_frame_and_a_timed_loop(tmp_path):
    frame = np.zeros((60, 40), np.float32)        # x = 60 columns, y = 40 rows
    frame[10:20, 5:8] = 1000.0                     # wider than 8 bits: scaled to 255
    single = write(tmp_path / "one.nii", frame, (0.3, 0.5))
    frames = list(open_source(str(single)))
    assert len(frames) == 1 and frames[0].image.shape == (40, 60)
    assert frames[0].image[5:8, 10:20].min() == 255 and frames[0].spacing == pytest.approx((0.5, 0.3))
    loop = np.random.default_rng(0).integers(0, 200, (50, 30, 1, 6)).astype(np.uint8)
    path = write(tmp_path / "loop.nii.gz", loop, (0.2, 0.2, 1.0, 20.0), "msec")
    source = open_source(str(path))
    frames = list(source)
    assert len(frames) == 6 and source.fps == pytest.approx(50.0)
    assert frames[2].time_s == pytest.approx(0.04)
    assert np.array_equal(frames[3].image, loop[:, :, 0, 3].T)


def test_bad_nifti_files_are_one_clear_error(tmp_path):
    colour = write(tmp_path / "rgbish.nii", np.zeros((20, 20, 3, 4), np.uint8), (1.0, 1.0, 1.0, 1.0))
    with pytest.raises(SourceError, match="rgbish.nii: NIfTI shape"):
        open_source(str(colour))
    broken = tmp_path / "broken.nii.gz"
    broken.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(SourceError, match="broken.nii.gz: not a readable NIfTI"):
        open_source(str(broken))

"""Segmentation training data and augmentation (no PyTorch needed)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.segmentation.augment import AugmentConfig, augment
from training.segmentation.dataset import DatasetError, load_folder, split_by_patient


def write_mhd(path: Path, array: np.ndarray) -> None:
    """A 2-D uint8 MetaImage (.mhd header + .raw data), the layout of the official CAMUS release."""
    raw = path.with_suffix(".raw")
    raw.write_bytes(np.ascontiguousarray(array, np.uint8).tobytes())
    path.write_text(f"ObjectType = Image\nNDims = 2\nDimSize = {array.shape[1]} {array.shape[0]}\n"
                    f"ElementType = MET_UCHAR\nElementDataFile = {raw.name}\n")


def heart(height: int = 300, width: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """A toy apical view: LV (1) above LA (3), MYO (2) around the LV, gray image matching the labels."""
    mask = np.zeros((height, width), np.uint8)
    mask[40:170, 50:150] = 2
    mask[50:160, 65:135] = 1
    mask[170:260, 60:140] = 3
    image = np.where(mask == 2, 200, np.where(mask > 0, 30, 90)).astype(np.uint8)
    return image, mask


def test_camus_subset_loads_at_network_size_and_splits_by_patient(camus):
    samples = load_folder(camus)
    assert len(samples) == 149 and len({s.patient for s in samples}) == 125
    assert all(s.image.shape == (256, 256) and s.mask.shape == (256, 256) for s in samples)
    assert set(np.unique(np.stack([s.mask for s in samples]))) == {0, 1, 2, 3}
    train, val = split_by_patient(samples, 0.2, seed=0)
    assert {s.patient for s in train}.isdisjoint({s.patient for s in val})
    assert len({s.patient for s in val}) == 25 and len(train) + len(val) == 149
    assert [s.name for s in split_by_patient(samples, 0.2, seed=0)[1]] == [s.name for s in val]


def test_camus_release_layout_is_read_and_oriented_apex_up(tmp_path):
    image, mask = heart()
    patient = tmp_path / "patient0001"
    patient.mkdir()
    write_mhd(patient / "patient0001_4CH_ED.mhd", image)
    write_mhd(patient / "patient0001_4CH_ED_gt.mhd", mask)
    write_mhd(patient / "patient0001_2CH_ES.mhd", image[::-1])          # stored upside down
    write_mhd(patient / "patient0001_2CH_ES_gt.mhd", mask[::-1])
    samples = load_folder(tmp_path)
    assert [s.name for s in samples] == ["patient0001_2CH_ES", "patient0001_4CH_ED"]
    for s in samples:
        rows = np.arange(256)[:, None]
        assert (rows * (s.mask == 1)).sum() / (s.mask == 1).sum() < (rows * (s.mask == 3)).sum() / (s.mask == 3).sum()
        assert s.patient == "patient0001"


def test_missing_or_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load_folder(tmp_path / "nothing")
    with pytest.raises(DatasetError, match="no labelled frames"):
        load_folder(tmp_path)


def test_augmentation_is_seeded_and_keeps_labels_on_the_image():
    image, mask = heart(256, 256)
    a = augment(image, mask, np.random.default_rng(3))
    b = augment(image, mask, np.random.default_rng(3))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert a[0].dtype == np.float32 and a[1].dtype == np.uint8 and a[0].max() <= 255
    geometry_only = AugmentConfig(gain=(1, 1), gamma=(1, 1), p_tgc=0, p_speckle=0, p_noise=0, p_blur=0, p_lowres=0)
    for seed in range(20):
        img, lab = augment(image, mask, np.random.default_rng(seed), geometry_only)
        myo = lab == 2
        if myo.sum() > 50:   # the bright wall moved with its label
            assert img[myo].mean() > 150 and img[lab == 1].mean() < 60


def test_mirroring_swaps_sides():
    image, mask = heart(256, 256)
    mask[:, 128:] = np.where(mask[:, 128:] == 1, 2, mask[:, 128:])     # make the heart asymmetric
    only_mirror = AugmentConfig(p_mirror=1.0, p_affine=0, p_sector=0, gain=(1, 1), gamma=(1, 1), p_tgc=0,
                                p_speckle=0, p_noise=0, p_blur=0, p_lowres=0)
    _, lab = augment(image, mask, np.random.default_rng(0), only_mirror)
    assert np.array_equal(lab, mask[:, ::-1])

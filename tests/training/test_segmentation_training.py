"""Segmentation training data and augmentation (no PyTorch needed)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.segmentation.augment import AugmentConfig, augment, reimage, source_of
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


def test_camus_subset_loads_at_stored_size_and_splits_by_patient(camus):
    samples = load_folder(camus)
    assert len(samples) == 149 and len({s.patient for s in samples}) == 125
    assert all(s.image.shape == (512, 512) and s.mask.shape == (512, 512) for s in samples)
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
        rows = np.arange(s.mask.shape[0])[:, None]
        assert (rows * (s.mask == 1)).sum() / (s.mask == 1).sum() < (rows * (s.mask == 3)).sum() / (s.mask == 3).sum()
        assert s.patient == "patient0001"


def test_missing_or_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load_folder(tmp_path / "nothing")
    with pytest.raises(DatasetError, match="no labelled frames"):
        load_folder(tmp_path)


def fan_heart(size: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """The toy heart inside a 75° fan of speckle-free tissue, as a scanner would show it."""
    from echoquality.core.fan import polygon_mask
    from training.segmentation.augment import sector_outline
    image, mask = heart(size, size // 2)
    image = np.pad(image, ((0, 0), (size // 4, size // 4)), constant_values=90)   # the heart in the fan's middle
    mask = np.pad(mask, ((0, 0), (size // 4, size // 4)))
    fan = polygon_mask(sector_outline((10.0, size / 2), 75.0, size - 20.0), (size, size))
    return np.where(fan, image, 0).astype(np.uint8), np.where(fan, mask, 0).astype(np.uint8)


NO_GREY_CHANGES = dict(gain=(1, 1), gamma=(1, 1), p_tgc=0, p_speckle=0, p_noise=0, p_blur=0, p_jpeg=0,
                       p_dynamic_range=0, p_overlays=0, p_wall_fade=0, p_apex_haze=0)


def test_wall_fade_darkens_one_side_wall_and_keeps_its_label():
    src = source_of(*fan_heart())
    cfg = AugmentConfig(p_mirror=0, zoom=(1, 1), anisotropy=(1, 1), rotation_deg=0, shift=0, **NO_GREY_CHANGES)
    plain, lab = augment(src, np.random.default_rng(5), cfg)
    faded, lab_faded = augment(src, np.random.default_rng(5), AugmentConfig(**{**cfg.__dict__, "p_wall_fade": 1.0,
                                                                               "wall_fade": (0.05, 0.05)}))
    assert np.array_equal(lab, lab_faded)                            # the wall is still there for the network
    myo = lab == 2
    darker = myo & (faded < plain - 40)
    assert darker.sum() > 0.1 * myo.sum()                            # part of the wall sank to the noise floor
    cols = np.nonzero(darker)[1]
    assert (cols < 128).all() or (cols >= 128).all()                 # on one side only
    assert np.abs(faded[~myo & (lab == 0)] - plain[~myo & (lab == 0)]).mean() < 5   # the rest of the frame kept


def test_augmentation_is_seeded_and_keeps_labels_on_the_image():
    src = source_of(*fan_heart())
    a = augment(src, np.random.default_rng(3))
    b = augment(src, np.random.default_rng(3))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert a[0].shape == (256, 256) and a[0].dtype == np.float32 and a[1].dtype == np.uint8 and a[0].max() <= 255
    for seed in range(12):
        img, lab = augment(src, np.random.default_rng(seed), AugmentConfig(**NO_GREY_CHANGES))
        myo = lab == 2
        assert myo.sum() > 50 and (lab == 1).sum() > 50
        assert img[myo].mean() > 150 and img[lab == 1].mean() < 60   # the bright wall moved with its label


def test_reimaged_screens_vary_in_size_and_fan_and_keep_labels_inside_the_fan():
    src = source_of(*fan_heart())
    shapes = set()
    for seed in range(8):
        screen, lab = reimage(src, np.random.default_rng(seed), AugmentConfig(**NO_GREY_CHANGES))
        shapes.add(screen.shape)
        assert screen.shape == lab.shape and (lab > 0).any()
        assert (screen[lab > 0] > 0).mean() > 0.95          # no label on the black background
    assert len(shapes) == 8


def test_mirroring_swaps_sides():
    image, mask = fan_heart()
    mask[:, 200:] = np.where(mask[:, 200:] == 1, 2, mask[:, 200:])     # the right half of the LV becomes wall
    src = source_of(image, mask)
    cfg = AugmentConfig(p_mirror=1.0, zoom=(1, 1), anisotropy=(1, 1), rotation_deg=0, shift=0, **NO_GREY_CHANGES)
    _, lab = augment(src, np.random.default_rng(0), cfg)
    cols = np.arange(lab.shape[1])
    lv_x = (cols * (lab == 1)).sum() / (lab == 1).sum()
    assert lv_x > lab.shape[1] / 2                      # the LV (left half of the toy heart) is now on the right


def test_edge_cut_exports_the_sector_cut_by_the_image_edges():
    image, mask = heart()
    src = source_of(image, mask)
    cfg = AugmentConfig(p_edge_cut=1.0, p_overlays=0.0, p_jpeg=0.0, p_blur=0.0)
    for seed in range(6):
        screen, labels = reimage(src, np.random.default_rng(seed), cfg)
        assert screen.shape == labels.shape
        # no black screen around the fan: it runs into the left, right and bottom edges
        assert (screen[:, 0] > 0).any() and (screen[:, -1] > 0).any() and (screen[-1] > 0).any()
        assert (screen[labels > 0] > 0).mean() > 0.95 and {1, 2, 3} <= set(np.unique(labels))
    whole, _ = reimage(src, np.random.default_rng(0), AugmentConfig(p_overlays=0.0, p_jpeg=0.0, p_blur=0.0))
    assert (whole[-1] == 0).all() or (whole[:, 0] == 0).all()          # without it the fan sits inside a black screen

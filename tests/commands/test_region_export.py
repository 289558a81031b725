"""`regions_command`: region maps and regions.csv from label-map files, bad files reported."""
from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from echoquality.commands.regions import read_label_map, regions_command, MaskError
from echoquality.core.vocabulary import AO, LA, MYO, REGION_NAMES
from tests.helpers import CAMUS
from tests.core.test_regions import heart


def rows(out: Path) -> list[dict]:
    with open(out / "regions.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_good_masks_give_region_maps_and_a_table(tmp_path, capsys):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    cv2.imwrite(str(a), heart())
    cv2.imwrite(str(b), cv2.resize(heart(), (384, 320), interpolation=cv2.INTER_NEAREST))
    out = tmp_path / "out"
    assert regions_command([str(a), str(b)], str(out), None) == 0
    for name, shape in (("a.png", (256, 256)), ("b.png", (320, 384))):
        rmap = cv2.imread(str(out / name), cv2.IMREAD_UNCHANGED)
        assert rmap.shape == shape and rmap.dtype == np.uint8
        assert set(np.unique(rmap)) == set(range(9))
    table = rows(out)
    assert len(table) == 16
    assert [r["region"] for r in table[:8]] == list(REGION_NAMES)
    assert [int(r["value"]) for r in table[:8]] == list(range(1, 9))
    assert all(r["valid"] == "1" and float(r["out_of_sector"]) == 0.0 for r in table)
    rmap = cv2.imread(str(out / "a.png"), cv2.IMREAD_UNCHANGED)
    for r in table[:8]:
        assert int(r["pixels"]) == (rmap == int(r["value"])).sum()
    assert "2 region map(s)" in capsys.readouterr().out


def test_spacing_sets_the_annulus_disc_size(tmp_path):
    a = tmp_path / "a.png"
    cv2.imwrite(str(a), heart())
    regions_command([str(a)], str(tmp_path / "fine"), (0.25, 0.25))
    regions_command([str(a)], str(tmp_path / "coarse"), (1.0, 1.0))
    fine = {r["region"]: int(r["pixels"]) for r in rows(tmp_path / "fine")}
    coarse = {r["region"]: int(r["pixels"]) for r in rows(tmp_path / "coarse")}
    assert fine["annulus_left"] > 10 * coarse["annulus_left"]


def test_bad_masks_are_reported_one_line_each_and_others_still_done(tmp_path, capsys):
    good = tmp_path / "good.png"
    cv2.imwrite(str(good), heart())
    not_image = tmp_path / "notes.png"
    not_image.write_text("not an image")
    colour = tmp_path / "colour.png"
    cv2.imwrite(str(colour), np.dstack([heart(), heart() * 0, heart()]))
    values = tmp_path / "values.png"
    cv2.imwrite(str(values), (heart() * 60).astype(np.uint8))
    missing = tmp_path / "missing.png"
    out = tmp_path / "out"
    status = regions_command([str(not_image), str(good), str(colour), str(values), str(missing)], str(out), None)
    assert status != 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 4
    for path, words in ((not_image, "cannot read"), (colour, "colour"), (values, "label values"), (missing, "no such")):
        assert any(str(path) in line and words in line for line in lines), (path, err)
    assert "Traceback" not in err
    assert (out / "good.png").exists()
    assert len(rows(out)) == 8


def test_empty_and_degenerate_masks_are_not_errors(tmp_path):
    empty = tmp_path / "empty.png"
    cv2.imwrite(str(empty), np.zeros((64, 64), np.uint8))
    tiny = tmp_path / "tiny.png"
    cv2.imwrite(str(tiny), np.full((2, 2), MYO, np.uint8))
    out = tmp_path / "out"
    assert regions_command([str(empty), str(tiny)], str(out), None) == 0
    table = rows(out)
    assert len(table) == 16 and all(r["valid"] == "0" for r in table)
    assert not cv2.imread(str(out / "empty.png"), cv2.IMREAD_UNCHANGED).any()


def test_same_stem_twice_does_not_overwrite(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    for d in ("x", "y"):
        cv2.imwrite(str(tmp_path / d / "frame.png"), heart())
    out = tmp_path / "out"
    assert regions_command([str(tmp_path / "x" / "frame.png"), str(tmp_path / "y" / "frame.png")], str(out), None) == 0
    assert (out / "frame.png").exists() and (out / "frame_2.png").exists()


def test_long_axis_masks_with_an_aorta(tmp_path):
    labels = heart()
    labels[(labels == LA) & (np.arange(256)[None, :] > 128)] = AO
    path = tmp_path / "alax.png"
    cv2.imwrite(str(path), labels)
    assert regions_command([str(path)], str(tmp_path / "out"), None) == 0
    assert all(r["valid"] == "1" for r in rows(tmp_path / "out"))


def test_read_label_map_accepts_grey_rgb_and_16_bit(tmp_path):
    rgb = tmp_path / "rgb.png"
    cv2.imwrite(str(rgb), np.dstack([heart()] * 3))
    assert np.array_equal(read_label_map(str(rgb)), heart())
    deep = tmp_path / "deep.png"
    cv2.imwrite(str(deep), heart().astype(np.uint16))
    assert np.array_equal(read_label_map(str(deep)), heart())
    with pytest.raises(MaskError):
        read_label_map(str(tmp_path / "none.png"))


def test_unwritable_output_folder(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert regions_command([], str(blocker / "out"), None) == 2
    assert "cannot create" in capsys.readouterr().err


@pytest.mark.skipif(not CAMUS.is_dir(), reason="CAMUS subset not available")
def test_camus_masks(tmp_path):
    masks = sorted(str(p) for p in (CAMUS / "masks").glob("*.png"))[:6]
    assert regions_command(masks, str(tmp_path), None) == 0
    table = rows(tmp_path)
    assert len(table) == 48
    assert sum(r["valid"] == "1" for r in table) >= 44
    assert cv2.imread(str(tmp_path / Path(masks[0]).name), cv2.IMREAD_UNCHANGED).shape == (512, 512)

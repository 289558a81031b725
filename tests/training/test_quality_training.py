"""The quality training command on a tiny run (real CAMUS frames and labels): it cross-validates by patient,
writes a loadable model folder with its card, and the exported model takes the region map."""
from __future__ import annotations

import json

import numpy as np
import pytest

from echoquality.inference.backends import ModelError
from echoquality.inference.registry import load_quality_model
from echoquality.core.quality import model_method
from echoquality.core.regions import Regions
from training.quality import train


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from tests.helpers import CAMUS as camus
    if not (camus / "images").is_dir():
        pytest.skip("../shared/data/camus_subset is not present")
    out = tmp_path_factory.mktemp("quality") / "regional_quality_tiny"
    code = train.main(["--data", str(camus), "--out", str(out), "--limit", "16", "--folds", "2",
                       "--steps", "2", "--batch", "2", "--no-loops"])
    assert code == 0
    return out


def test_tiny_run_writes_model_folder_with_card(tiny_run):
    for name in ("model.onnx", "README.md", "report.json", "training.json"):
        assert (tiny_run / name).is_file(), name
    report = json.loads((tiny_run / "report.json").read_text())
    cv = report["cross_validation"]
    assert cv["folds"] == 2 and len(cv["frames"]) == 16
    assert {f["fold"] for f in cv["frames"]} == {0, 1}
    assert set(report["comparison"]) >= {"gcnr", "cnr", "cr", "intensity"}
    card = (tiny_run / "README.md").read_text()
    assert "CC BY-NC-SA 4.0" in card and "Leclerc" in card and "out of fold" in card
    assert "--limit 16" in json.loads((tiny_run / "training.json").read_text())["command"]


def test_region_model_needs_and_uses_the_region_map(tiny_run):
    model = load_quality_model(tiny_run, "onnxruntime-cpu")
    assert model.uses_regions and model.bias_correction is None and model.framing == "fan"
    frame = np.full((1, 1, 256, 256), 80, np.float32)
    with pytest.raises(ModelError, match="needs the region map"):
        model.predict(frame)
    region_map = np.zeros((256, 256), np.uint8)
    region_map[100:120, 60:80] = 2
    region_map[100:120, 170:190] = 5
    scores = model.predict(frame, region_map[None, None].astype(np.float32))
    assert scores.shape == (1, 8) and np.all(np.isfinite(scores))
    valid = np.zeros(8, bool)
    valid[[1, 4]] = True
    regions = Regions(region_map, valid, np.zeros(8, int), np.zeros(8), np.zeros((256, 256), bool), None)
    got = model_method(model)(frame[0, 0].astype(np.uint8), regions)
    assert np.isfinite(got[[1, 4]]).all() and np.isnan(np.delete(got, [1, 4])).all()


def test_bad_data_folder_is_one_line(tmp_path, capsys):
    assert train.main(["--data", str(tmp_path), "--out", str(tmp_path / "m")]) == 2
    assert "error:" in capsys.readouterr().err


def test_framing_check_scores_the_held_out_frames_re_cut_with_the_fold_models(tmp_path):
    from tests.helpers import CAMUS as camus
    if not (camus / "images").is_dir():
        pytest.skip("../shared/data/camus_subset is not present")
    out = tmp_path / "cv"
    assert train.main(["--data", str(camus), "--out", str(out), "--limit", "12", "--folds", "2", "--cv-steps", "2",
                       "--batch", "2", "--cv-only", "--framing-check", "--anisotropy", "0.75", "1.33", "--consistency", "1"]) == 0
    rows = json.loads((out / "report.json").read_text())["cross_validation"]["framing_check"]
    assert [r["cut"] for r in rows] == ["fan's bounding box = the image", "sides and arc cut 8 %", "sides cut 15 %",
                                        "apex cut 6 %", "moved 3 px right and 2 px down (regions with it)"]
    for r in rows:
        assert r["frames"] == 12 and -1 <= r["spearman"] <= 1 and r["mean_abs_shift"] >= abs(r["mean_shift"])
        assert r["mean_abs_shift"] > 0                    # a re-cut frame is not scored exactly as stored

"""Cycle reports from per-frame results: LV area from the record, cycles.csv, summary.json, picture."""
from __future__ import annotations

import csv
import json
import math

import cv2
import numpy as np
import pytest

from echoquality.core.cycle_tracker import lv_area_mm2
from echoquality.core.records import Frame, FrameResult
from echoquality.outputs.cycle_plot import write_plot
from echoquality.outputs.cycles_report import CycleRecorder, CyclesCsv, biplane_summary, summary, write_summary
from tests.core.synthetic_cycles import area_curve
from tests.core.test_ejection_fraction import half_ellipse

FPS = 50
FRAME_SHAPE = (512, 512)
SPACING = (0.3, 0.3)            # of the frame; at network size (256) 0.6 mm


def results(periods, poor_right_wall=False, drop=(), radius=(15, 8)):
    """FrameResults of a beating half-ellipse LV (apex up, LA below) with known ED/ES; its radius
    radius[0] + radius[1] x (fraction of the area range)."""
    area, eds, ess = area_curve(periods, FPS, duration_s=sum(periods) + 0.3)   # a little after the last ED
    frac = (area - area.min()) / np.ptp(area)
    out = []
    for i, f in enumerate(frac):
        if i in drop:
            continue
        labels = half_ellipse(60 + 20 * f, radius[0] + radius[1] * f, (0.6, 0.6))
        scores = np.full(8, 3.8)
        if poor_right_wall:
            scores[3:6] = 1.7
        frame = Frame(np.zeros(FRAME_SHAPE, np.uint8), i, i / FPS, SPACING, "synthetic.npy")
        out.append(FrameResult(frame, labels=labels, scores=scores, view="a4c"))
    return out, eds, ess


def record(frame_results, view="a4c"):
    rec = CycleRecorder(f"synthetic_{view}.npy", view, FPS)
    for r in frame_results:
        rec.add(r)
    return rec, rec.finish()


def test_lv_area_uses_the_network_spacing():
    labels = np.zeros((256, 256), np.uint8)
    labels[100:110, 100:120] = 1
    result = FrameResult(Frame(np.zeros(FRAME_SHAPE, np.uint8), 0, 0.0, SPACING, "x"), labels=labels)
    assert lv_area_mm2(result) == pytest.approx(200 * 0.6 * 0.6)
    assert math.isnan(lv_area_mm2(FrameResult(result.frame, labels=np.zeros((256, 256), np.uint8))))
    assert math.isnan(lv_area_mm2(FrameResult(result.frame)))


def test_cycles_volumes_and_ef_from_frame_results():
    frame_results, eds, ess = results([0.9, 0.8, 0.9])
    _, found = record(frame_results)
    complete = [q.cycle for q in found.qualities if q.cycle.complete]
    assert len(complete) == 3
    assert all(abs(c.ed_frame - e) <= 2 and abs(c.es_frame - s) <= 2 for c, e, s in zip(complete, eds, ess))
    q = found.qualities[0]
    edv, esv = found.volumes[q.cycle.ed_frame], found.volumes[q.cycle.es_frame]
    # half spheroids: 2/3 pi L R^2 at ED (80, 23) and ES (60, 15) mm
    assert edv == pytest.approx(2 / 3 * math.pi * 80 * 23 ** 2 / 1000, rel=0.08)
    assert esv == pytest.approx(2 / 3 * math.pi * 60 * 15 ** 2 / 1000, rel=0.12)
    report = summary(found, "e2e")
    assert report["measurements"]["EF"]["feasible"] and report["measurements"]["MAPSE"]["feasible"]
    ef = report["ejection_fraction"]
    assert ef["research_use_only"] and ef["percent"] == pytest.approx(100 * (1 - esv / edv), abs=0.1)
    assert report["cycles"][0]["lv_volume_ed_ml"] == pytest.approx(edv, abs=0.1)
    assert report["region_names"]["basal_right"] == "basal anterolateral"
    assert report["cycles"][0]["quality_over_cycle"]["mid_left"] == [3.8] * 20


def test_ef_withheld_where_the_wall_is_poor(tmp_path):
    frame_results, _, _ = results([0.9, 0.8, 0.9], poor_right_wall=True)
    _, found = record(frame_results)
    report = summary(found)
    assert report["ejection_fraction"]["percent"] is None
    n = len(found.qualities)
    assert report["measurements"]["EF"]["explanation"] == (
        f"EF: not feasible, anterolateral wall poor in {n} of {n} cycles.")
    assert report["measurements"]["MAPSE"]["feasible"]
    write_summary(tmp_path / "s.json", found)
    assert json.loads((tmp_path / "s.json").read_text())["ejection_fraction"]["percent"] is None


def test_cycles_csv_and_picture(tmp_path):
    frame_results, _, _ = results([0.9, 0.8, 0.9], drop=set(range(60, 64)))
    _, found = record(frame_results)
    table = CyclesCsv(tmp_path / "cycles.csv")
    table.write(found)
    table.close()
    with open(tmp_path / "cycles.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["cycle"]) for r in rows] == list(range(1, len(found.qualities) + 1))
    complete = [r for r in rows if r["complete"] == "1"]
    assert len(complete) == 3
    assert all(float(r["heart_rate"]) == pytest.approx(60 / p, abs=3) for r, p in zip(complete, [0.9, 0.8, 0.9]))
    assert {r["ef_feasible"] for r in rows} == {"1"} and float(rows[0]["mid_left"]) == pytest.approx(3.8)
    write_plot(tmp_path / "cycles.png", found)
    image = cv2.imread(str(tmp_path / "cycles.png"))
    assert image is not None and image.shape[1] == 1400
    assert (image != 255).any(axis=2).mean() > 0.05


def test_label_maps_kept_only_around_ed_and_es():
    frame_results, _, _ = results([0.8] * 12)          # about 10 s at 50 frames/s
    rec, found = record(frame_results)
    assert len(found.qualities) >= 11
    assert all(math.isfinite(found.volumes[q.cycle.ed_frame]) for q in found.qualities)
    assert len(rec.kept) < 0.5 * len(frame_results)


def test_biplane_ef_of_one_patient():
    _, a4c = record(results([0.9, 0.8, 0.9])[0], "a4c")
    _, a2c = record(results([0.85, 0.85, 0.8], radius=(12, 7))[0], "a2c")
    report = biplane_summary(a4c, a2c)
    # half ellipsoids, semi-axes (L, a, b): ED (80, 23, 19), ES (60, 15, 12) mm
    truth = 100 * (1 - (60 * 15 * 12) / (80 * 23 * 19))
    assert report["percent"] == pytest.approx(truth, abs=3)
    assert report["edv_ml"] == pytest.approx(2 / 3 * math.pi * 80 * 23 * 19 / 1000, rel=0.08)
    assert report["research_use_only"] and report["explanation"].startswith("Biplane EF ")
    assert report["a2c"]["source"] == "synthetic_a2c.npy"


def test_biplane_ef_withheld_when_one_view_fails():
    _, a4c = record(results([0.9, 0.8, 0.9])[0], "a4c")
    _, a2c = record(results([0.85, 0.85, 0.8], poor_right_wall=True)[0], "a2c")
    report = biplane_summary(a4c, a2c)
    assert report["percent"] is None and report["edv_ml"] is None
    assert report["explanation"].startswith("Biplane EF not shown: A2C EF: not feasible, anterior wall poor in")

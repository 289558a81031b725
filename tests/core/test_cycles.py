"""ED/ES and cycles: synthetic LV-area curves with known cycles, noise, dropouts and partial cycles;
online against offline; the real E95 and echotk loops against extremes marked by eye; CAMUS."""
from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from echoquality.core.cycles import ED, ES, OnlineCycleDetector, find_cycles, find_phases
from tests.core.synthetic_cycles import area_curve, noisy
from tests.helpers import CAMUS, DEMO_LOOP, SHARED_DATA

PERIODS = [0.85, 0.8, 0.9, 0.75, 0.85]     # 64-80 bpm


def frames_of(phases, kind, interior_only=False):
    return [p.frame for p in phases if p.kind == kind and not (interior_only and p.edge)]


def assert_matches(found: list[int], expected: list[int], tol: int, what: str) -> None:
    assert len(found) == len(expected), f"{what}: found {found}, expected {expected}"
    errors = np.abs(np.subtract(found, expected))
    assert errors.max() <= tol, f"{what}: found {found}, expected {expected}"


@pytest.mark.parametrize("fps", [60, 30, 25])
@pytest.mark.parametrize("sd, spikes", [(0.0, 0), (0.03, 0), (0.03, 37)])
def test_known_cycles_are_found(fps, sd, spikes):
    area, eds, ess = area_curve(PERIODS, fps)
    area = noisy(area, sd, seed=fps, spikes_every=spikes) if sd else area
    phases = find_phases(area, fps)
    assert_matches(frames_of(phases, ED), eds, 2, "ED")
    assert_matches(frames_of(phases, ES), ess, 2, "ES")
    kinds = [p.kind for p in phases]
    assert all(a != b for a, b in zip(kinds, kinds[1:])), "ED and ES alternate"


def test_slow_wobble_in_diastole_is_not_a_cycle():
    """A smooth wobble of a fifth of the range (a wall moving in and out of the segmentation)."""
    fps = 60
    area, eds, ess = area_curve(PERIODS, fps)
    t = np.arange(len(area)) / fps
    area = area + 0.1 * np.ptp(area) * np.sin(2 * np.pi * t / 0.3)
    phases = find_phases(area, fps)
    assert_matches(frames_of(phases, ED), eds, 3, "ED")
    assert_matches(frames_of(phases, ES), ess, 3, "ES")


def test_heart_rate_per_cycle():
    fps = 60
    periods = [1.0, 0.8, 0.6, 0.75]         # 60, 75, 100, 80 bpm
    area, _, _ = area_curve(periods, fps)
    cycles = find_cycles(noisy(area, 0.02, seed=3), fps)
    # the last ED is the recording's last frame: its cycle is kept as partial
    assert [c.complete for c in cycles] == [True, True, True, False]
    hr = [c.heart_rate_bpm for c in cycles[:3]]
    assert np.allclose(hr, [60, 75, 100], atol=2.5), hr
    assert math.isnan(cycles[3].heart_rate_bpm)
    assert cycles[0].start == cycles[0].ed_frame and cycles[0].end == cycles[1].ed_frame - 1


def test_heart_rate_uses_frame_times():
    fps = 50
    area, _, _ = area_curve(PERIODS, fps, duration_s=sum(PERIODS) + 0.3)
    times = np.arange(len(area)) / fps * 2.0      # frames twice as far apart as the nominal rate
    hr = [c.heart_rate_bpm for c in find_cycles(area, fps, times) if c.complete]
    assert np.allclose(hr, 60 / np.array(PERIODS) / 2, atol=1.5), hr


def test_dropouts_are_bridged_and_long_gaps_split():
    fps = 60
    area, eds, ess = area_curve(PERIODS, fps)
    holes = noisy(area, 0.02, seed=5)
    for start in (30, 95, 160, 230):           # 6 missing frames (0.1 s), one right at an ED (99)
        holes[start:start + 6] = np.nan
    assert_matches(frames_of(find_phases(holes, fps), ED), eds, 2, "ED with holes")
    assert_matches(frames_of(find_phases(holes, fps), ES), ess, 2, "ES with holes")
    split = area.copy()
    split[125:150] = np.nan                    # 0.42 s lost: no cycle may span it
    cycles = find_cycles(split, fps)
    assert cycles and all(c.end < 125 or c.start >= 150 for c in cycles)
    assert not any(c.start < 125 <= c.end for c in cycles)


def test_single_partial_cycle():
    fps = 30
    # from mid-diastole, through one ED and ES, into early filling: 0.75 of a beat
    area, eds, ess = area_curve([0.9, 0.9], fps, start_s=0.55, duration_s=0.75)
    phases = find_phases(area, fps)
    assert_matches(frames_of(phases, ED), eds, 2, "ED")
    assert_matches(frames_of(phases, ES), ess, 2, "ES")
    (cycle,) = find_cycles(area, fps)
    assert not cycle.complete and math.isnan(cycle.heart_rate_bpm)
    assert (cycle.ed_frame, cycle.es_frame) == (phases[0].frame, phases[1].frame)


def test_edges_kept_only_when_they_look_like_extremes():
    fps = 60
    area, eds, _ = area_curve(PERIODS, fps)    # starts exactly at an ED
    assert frames_of(find_phases(area, fps), ED)[0] <= 2
    mid_systole, _, _ = area_curve(PERIODS, fps, start_s=0.15)   # starts half-way down
    first = find_phases(mid_systole, fps)[0]
    assert first.kind == ES and first.frame > 5


@pytest.mark.parametrize("series", ["flat", "noise"])
def test_no_cycles_without_motion(series):
    rng = np.random.default_rng(0)
    area = np.full(300, 2500.0) if series == "flat" else 2500 + rng.normal(0, 30, 300)
    assert find_phases(area, 60) == []
    assert find_cycles(area, 60) == []


def test_bad_frame_rate_is_refused():
    with pytest.raises(ValueError, match="frame rate"):
        find_phases(np.ones(10), 0)


def online(area, fps, skip=()):
    """Feed a detector frame by frame (frames in skip are never sent); (phases, delays in frames)."""
    det, phases, delays = OnlineCycleDetector(fps), [], []
    for i, v in enumerate(area):
        if i in skip:
            continue
        for p in det.push(i, v):
            phases.append(p)
            delays.append(i - p.frame)
    return phases + det.finish(), delays


@pytest.mark.parametrize("fps", [60, 30])
def test_online_agrees_with_offline_after_warm_up(fps):
    area, _, _ = area_curve(PERIODS * 3, fps)
    area = noisy(area, 0.03, seed=7, spikes_every=41)
    offline = find_phases(area, fps)
    live, delays = online(area, fps)
    warm = int(1.2 * fps)
    a = [(p.kind, p.frame) for p in offline if p.frame > warm and not p.edge]
    b = [(p.kind, p.frame) for p in live if p.frame > warm and not p.edge]
    assert [k for k, _ in a] == [k for k, _ in b]
    assert max(abs(x - y) for (_, x), (_, y) in zip(a, b)) <= 1
    late = [d for p, d in zip(live, delays) if p.frame > warm]
    assert max(late) <= 0.35 * fps, "confirmed within 0.35 s"


def test_online_bridges_missing_frames_and_restarts_after_a_long_gap():
    fps = 60
    area, eds, _ = area_curve(PERIODS * 2, fps)
    skipped = set(range(200, 206)) | set(range(400, 404))
    live, _ = online(area, fps, skip=skipped)
    assert_matches([p.frame for p in live if p.kind == ED and p.frame > 70],
                   [e for e in eds if e > 70], 2, "online ED with skipped frames")
    holes = area.copy()
    holes[300:340] = np.nan
    live, _ = online(holes, fps)
    found = [p.frame for p in live if p.kind == ED]
    # the detector starts afresh after the gap: nothing inside it, the right EDs after it
    assert not any(300 - 2 <= f < 340 for f in found)
    assert_matches([f for f in found if f >= 340], [e for e in eds if e >= 340], 2, "online ED after the gap")


@pytest.mark.parametrize("every", [3, 5])
def test_online_when_the_analysis_keeps_only_some_frames(every):
    """A busy live analysis drops frames to keep real time: every 3rd or 5th of a 60 frames/s source."""
    fps = 60
    area, eds, ess = area_curve(PERIODS * 2, fps)
    area = noisy(area, 0.03, seed=every)
    live, _ = online(area, fps, skip={i for i in range(len(area)) if i % every})
    for kind, truth in ((ED, eds), (ES, ess)):
        found = [p.frame for p in live if p.kind == kind and p.frame > fps]
        assert_matches(found, [f for f in truth if f > fps], every, f"{kind} from every {every}th frame")


def test_online_refuses_frames_out_of_order():
    det = OnlineCycleDetector(30)
    det.push(5, 100.0)
    with pytest.raises(ValueError, match="comes after"):
        det.push(3, 100.0)


# --- real loops: LV area from the default segmentation model

# ED/ES marked by eye on the LV-area curves (plotted with every frame numbered), frame numbers.
E95_ED, E95_ES = [9, 72, 133], [26, 89, 153]
E95_ED_AT_END = 190          # a maximum 4 frames before the end: may be reported (as an edge)
ECHOTK_ES, ECHOTK_ED = 2, 14  # the loop runs from ES through filling to ED and early systole


def loop_areas(path: Path) -> tuple[np.ndarray, float]:
    """(LV area per frame, frame rate) of a loop run through the analysis chain with the default
    segmentation: the area comes from each frame's result record, as in `analyze` and the GUI."""
    from echoquality.core.cycle_tracker import lv_area_mm2
    from echoquality.inference.registry import load_segmentation_model, resolve_method
    from echoquality.sources.playback import open_source
    from echoquality.streaming.graph import build
    frames = list(open_source(str(path)))
    results = []
    quality, name = resolve_method("intensity")
    build(iter(frames), load_segmentation_model(), quality, name, results.append, "a4c", split_screen=False).run()
    results.sort(key=lambda r: r.frame.index)
    assert [r.frame.index for r in results] == list(range(len(frames)))
    fps = 1.0 / np.median(np.diff([f.time_s for f in frames]))
    return np.array([lv_area_mm2(r) for r in results]), float(fps)


@pytest.fixture(scope="module")
def e95_area():
    return loop_areas(DEMO_LOOP)


def test_e95_loop_ed_es_within_two_frames_of_the_eye(e95_area):
    area, fps = e95_area
    phases = find_phases(area, fps)
    interior = [p for p in phases if not p.edge]
    assert_matches(frames_of(interior, ED), E95_ED, 2, "E95 ED")
    assert_matches(frames_of(interior, ES), E95_ES, 2, "E95 ES")
    assert all(abs(p.frame - E95_ED_AT_END) <= 2 and p.kind == ED for p in phases if p.edge)
    cycles = [c for c in find_cycles(area, fps) if c.complete]
    assert len(cycles) >= 2
    assert all(50 <= c.heart_rate_bpm <= 70 for c in cycles)      # about 0.95 s per beat


def test_e95_loop_online_matches_the_eye(e95_area):
    area, fps = e95_area
    live, _ = online(area, fps)
    after_warm_up = [p for p in live if p.frame > 65 and not p.edge]
    assert_matches(frames_of(after_warm_up, ED), [f for f in E95_ED if f > 65], 2, "online ED")
    assert_matches(frames_of(after_warm_up, ES), [f for f in E95_ES if f > 65], 2, "online ES")


def test_echotk_loop_partial_cycle_within_two_frames_of_the_eye():
    path = SHARED_DATA / "loops" / "echotk_a4c.nii.gz"
    if not path.exists():
        pytest.skip("../shared/data/loops/echotk_a4c.nii.gz is not present")
    area, fps = loop_areas(path)
    phases = find_phases(area, fps)
    assert_matches(frames_of(phases, ES), [ECHOTK_ES], 2, "echotk ES")
    assert_matches(frames_of(phases, ED), [ECHOTK_ED], 2, "echotk ED")
    (cycle,) = find_cycles(area, fps)
    assert not cycle.complete


CAMUS_MASKS = CAMUS / "masks"


@pytest.mark.skipif(not CAMUS_MASKS.is_dir(), reason="../shared/data/camus_subset is not present")
def test_camus_ed_and_es_ranked_by_lv_area_within_patients():
    """Every ED/ES pair of one patient, same view (9) and across the two views (8): ED has the larger LV."""
    frames: dict[str, list[tuple[str, str, int]]] = {}
    for path in CAMUS_MASKS.glob("*.png"):
        patient, view, phase = path.stem.split("_")
        area = int((cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) == 1).sum())
        frames.setdefault(patient, []).append((view, phase, area))
    pairs = [(ed, es) for fs in frames.values() for ed in fs for es in fs if ed[1] == "ED" and es[1] == "ES"]
    same_view = [(ed, es) for ed, es in pairs if ed[0] == es[0]]
    assert len(same_view) >= 5 and len(pairs) >= 10
    assert all(ed[2] > es[2] for ed, es in pairs)


def test_quantiles_of_sorted_arrays_match_numpy():
    from echoquality.core.cycles import _quantile_sorted

    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 10, 179, 180):
        values = rng.normal(size=n) * 50
        ordered = np.sort(values)
        for q in (0.0, 0.05, 0.5, 0.95, 1.0):
            assert _quantile_sorted(ordered, q) == pytest.approx(float(np.quantile(values, q)), abs=1e-9)
    assert np.isnan(_quantile_sorted(np.zeros(0), 0.5))

"""Model card (README.md) of an exported segmentation model, from its training.json and speed.json.

    .venv/bin/python -m training.segmentation.card models/NAME
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

EXPLORATION_FILE = Path(__file__).with_name("exploration.md")


def _stop_after_text(run: dict) -> str:
    """A limitation line when the weights stop before the end of their schedule (else nothing)."""
    stop, epochs = run.get('stop_after', run['epochs']), run['epochs']
    if stop >= epochs:
        return ""
    return (f"- The shipped weights stop at epoch {stop} of the {epochs}-epoch schedule (time ran out on a shared "
            "2-core machine); the command above reproduces exactly these weights, and without `--stop-after` it runs "
            "the whole schedule.\n")


def _single_pass_text(single: dict | None) -> str:
    """One line: Dice of one pass without mirror averaging (the live chain's setting)."""
    if not single:
        return ""
    means = ", ".join(f"{k} {v['mean']:.3f}" for k, v in single["as_is"].items())
    return f"\n\nOne pass without mirror averaging (what the live chain runs): {means}."


def _dice_rows(validation: dict) -> str:
    rows = ["| structure | mean Dice | SD | worst frame | mean Dice, mirrored frames |", "|---|---|---|---|---|"]
    for name, v in validation["as_is"].items():
        m = validation["mirrored"][name]
        rows.append(f"| {name} | {v['mean']:.3f} | {v['std']:.3f} | {v['min']:.3f} | {m['mean']:.3f} |")
    return "\n".join(rows)


GOAL = {"LV": 0.93, "MYO": 0.87, "LA": 0.90}


def _goal_text(table: dict) -> str:
    missed = [f"{k} {table[k]['mean']:.3f} < {v}" for k, v in GOAL.items() if table[k]["mean"] < v]
    return "met." if not missed else "not met (" + ", ".join(missed) + "; see Limitations)."


def _speed_rows(speed: dict) -> str:
    rows = ["| backend | median ms/frame | p95 ms/frame |", "|---|---|---|"]
    for backend, r in speed.get("results", {}).items():
        if "error" in r:
            rows.append(f"| {backend} | unavailable | |")
        else:
            rows.append(f"| {backend} | {r['median_ms']:.2f} | {r['p95_ms']:.2f} |")
    return "\n".join(rows)


def _real_frame_rows(checks: list[dict]) -> str:
    rows = ["| loop | frames | one LV, MYO, LA inside the fan (raw output) | labelled pixels outside the fan (raw) | "
            "six myocardial regions valid (network's walls alone; wall completed in) | all eight valid | "
            "wall thickness mm: median (p5–p95) | MYO frame-to-frame Dice |",
            "|---|---|---|---|---|---|---|---|"]
    for r in checks:
        w = r["wall_thickness_mm"]
        alone = r.get("six_myocardial_regions_valid_network_walls_only")
        six = f"{r['six_myocardial_regions_valid']:.0%}" + (
            f" ({alone:.0%}; {r['wall_completed']:.0%} of frames)" if alone is not None else "")
        rows.append(f"| {Path(r['loop']).name} | {r['frames']} | {r['one_lv_myo_la_inside_fan_raw']:.0%} | "
                    f"{r['labelled_pixels_outside_fan_raw']:.1%} | {six} | "
                    f"{r['all_eight_regions_valid']:.0%} | {w['median']:.1f} ({w['p5']:.1f}–{w['p95']:.1f}) | "
                    f"{r['myo_frame_to_frame_dice']:.3f} |")
    return "\n".join(rows)


def _framing_rows(rows: list[dict]) -> str:
    out = ["| frame as given | frames | Dice LV | Dice MYO | Dice LA | worst frame MYO | six myocardial regions valid |",
           "|---|---|---|---|---|---|---|"]
    out += [f"| {r['cut']} | {r['frames']} | {r['LV']:.3f} | {r['MYO']:.3f} | {r['LA']:.3f} | {r['worst_MYO']:.2f} | "
            f"{r['six_regions_valid']:.0%} |" for r in rows]
    return "\n".join(out)


def _unsure_rows(report: dict) -> str:
    out = ["| kind | frames | n | share of close calls, median (p95): one pass | as run on recordings | stopped: one pass "
           "| recordings |", "|---|---|---|---|---|---|---|"]
    out += [f"| {g['kind']} | {g['frames']} | {g['n']} | {g['one_pass']['median']:.3f} ({g['one_pass']['p95']:.3f}) | "
            f"{g['recording']['median']:.3f} ({g['recording']['p95']:.3f}) | {g['one_pass']['stopped']:.0%} | "
            f"{g['recording']['stopped']:.0%} |" for g in report["groups"]]
    return "\n".join(out)


def _other_split_text(folder: Path, shipped_validation: dict | None) -> str:
    """A paragraph on the same recipe validated on another split (folder/other_splits.json) beside the shipped
    split's validation, or ''."""
    path = folder / "other_splits.json"
    if not path.is_file() or not shipped_validation:
        return ""
    o = json.loads(path.read_text())
    v, m = o["validation"]["as_is"], o["validation"]["mirrored"]
    shipped = {k: shipped_validation["as_is"][k]["mean"] for k in ("LV", "MYO", "LA")}
    both = {k: (shipped[k] + v[k]) / 2 for k in shipped}
    apart = [abs(shipped[k] - v[k]) for k in shipped]
    return (f"\n\n**Another split.** {o['note']} (`{o['command']}`; {o['val_patients']} other patients, "
            f"{o['val_frames']} frames, mirror averaged): LV {v['LV']:.3f}, MYO {v['MYO']:.3f}, LA {v['LA']:.3f} (mirrored frames "
            f"{m['LV']:.3f} / {m['MYO']:.3f} / {m['LA']:.3f}; worst frame LA {o['worst']['LA']:.2f}: an atrium missed). "
            f"So the recipe's held-out Dice on this data is about {both['LV']:.2f} / {both['MYO']:.2f} / {both['LA']:.2f} "
            f"(the two splits' mean), moving by {min(apart):.2f}-{max(apart):.2f} from split to split.")


def _second_member_text(folder: Path) -> str:
    """A paragraph on the same recipe trained again on the same split with other initial weights
    (folder/second_member.json, `training.segmentation.member_check`), or ''."""
    path = folder / "second_member.json"
    if not path.is_file():
        return ""
    o = json.loads(path.read_text())
    held = o["held_out"]

    def row(key: str) -> str:
        return " / ".join(f"{held[key][k]:.3f}" for k in ("LV", "MYO", "LA"))

    loops = "; ".join(f"{loop}: " + ", ".join(f"{k} {v['mean']:.2f} (p5 {v['p5']:.2f})" for k, v in r.items())
                      for loop, r in o["real_loops"].items())
    return (f"\n\n**A second training on the same split** (the shipped command with `--init-seed "
            f"{o['other']['init_seed']}`: other initial weights and augmentation draws; not shipped), measured with "
            f"`python -m training.segmentation.member_check` (`second_member.json`). Held-out Dice LV / MYO / LA, mirror "
            f"averaged: shipped {row('model 1, mirror averaged')}, second {row('model 2, mirror averaged')}; the two "
            f"averaged, one pass each (the same two passes as mirror averaging) {row('both, one pass each')}, and with "
            f"mirroring (four passes) {row('both, mirror averaged')}: an ensemble of two buys nothing over mirror "
            f"averaging here, so the app keeps one network. On the real loops the two trainings' labels (one pass each, "
            f"after the clean-up) agree at Dice {loops}: this much of a structure's footprint on a scanner neither saw "
            f"depends on the training draw alone.")


def render(folder: Path) -> str:
    """The card's markdown for a model folder."""
    run = json.loads((folder / "training.json").read_text())
    speed_file = folder / "speed.json"
    speed = json.loads(speed_file.read_text()) if speed_file.is_file() else None
    size_mb = (folder / "model.onnx").stat().st_size / 1e6
    validation = run.get("validation")
    val_text = (f"Held-out patients ({len(run['val_patients'])} patients, {run['val_frames']} frames; no frame of them "
                f"was used for training or model selection: the exported weights are the moving average after the last epoch "
                f"trained, {run.get('stop_after', run['epochs'])} of the {run['epochs']}-epoch schedule). "
                f"Dice in the app's canonical framing (256x256) after the app's clean-up, against the reference labels "
                f"taken through the same framing with nearest neighbour; mean over frames. The mirrored column runs the same frames flipped left-right (the other display convention).\n\n"
                + _dice_rows(validation) + _single_pass_text(run.get("validation_single_pass")) + "\n\nThe goal, the level of nnU-Net trained on the full CAMUS set "
                "(about 12x more data), is LV 0.93, MYO 0.87, LA 0.90: " + _goal_text(validation["as_is"])) \
        if validation else "No validation split (trained on every patient)."
    speed_text = (_speed_rows(speed) + f"\n\n{speed.get('machine', '')}") if speed else \
        "Not measured yet: run `benchmarks/bench_segmentation.py`."
    native = float(run.get("native_share", 0.0))
    native_text = (f"{native:.0%} of the training frames are shown as stored (mirrored, grey levels varied, as below), "
                   f"so the network also sees CAMUS's own look; the other {1 - native:.0%} are ") if native > 0 else \
        "every training frame is "
    edge_cut = float(run.get("edge_cut", 0.0))
    edge_text = (f" {edge_cut:.0%} of the re-imaged screens are then exported as the sector alone, cut by the image's "
                 "edges (up to 18 % of the fan's width off each side, 12 % of its height off the arc, 6 % off the apex; "
                 "half of them stretched to a square), as other scanners and archives export it.") if edge_cut > 0 else ""
    exploration = EXPLORATION_FILE.read_text() if EXPLORATION_FILE.is_file() else ""
    real_file = folder / "real_frames.json"
    real_text = (_real_frame_rows(json.loads(real_file.read_text())) + "\n\nMeasured with `python -m training.segmentation.real_frames "
                 f"--model {run['name']} --json models/{run['name']}/real_frames.json` (montages in `docs/real_frames_*_"
                 f"{run['name']}.png`). The E95 MP4 stores no pixel spacing: the app's default (frame height = 160 mm) "
                 "applies, so its millimetres are approximate; the echotk NIfTI stores 0.4 mm.") \
        if real_file.is_file() else "Not measured yet: run `python -m training.segmentation.real_frames`."
    framing_file = folder / "framing_check.json"
    framing_text = (_framing_rows(json.loads(framing_file.read_text())) + "\n\nMeasured with `python -m "
                    f"training.segmentation.framing_check --data ../shared/data/camus_subset --model {run['name']} --json "
                    f"models/{run['name']}/framing_check.json`: the held-out frames and their masks re-cut around the "
                    "fan and resized to 370x370 (aspect not kept, as such exports are), analysed through the app's "
                    "whole path; Dice at the frame's size (so a little below the network-size Dice above). Cutting "
                    "the arc or the sides also cuts and stretches the atrium: the LA loses most.") \
        if framing_file.is_file() else "Not measured yet: run `python -m training.segmentation.framing_check`."
    unsure_file = folder / "unsure_check.json"
    unsure = json.loads(unsure_file.read_text()) if unsure_file.is_file() else None
    unsure_text = (f"The app stops a frame (status `no_lv`, no scores) when more than **{unsure['limit']:.2f}** of what "
                   "the network labelled LV, MYO or LA inside the fan was a close call (its class won with a probability "
                   f"below {unsure['level']}; `echoquality.core.segmentation.uncertain_share`, 0.06 ms a frame). The limit "
                   "is kept in the ONNX metadata (`max_uncertain_share`; models without it, such as the paper's, are "
                   "never stopped this way) and was set by `python -m training.segmentation.unsure_check --data "
                   "../shared/data/camus_subset --negatives ../shared/data/non_apical --json "
                   f"models/{run['name']}/unsure_check.json --montage docs/unsure_check.png --write`: the most unsure "
                   f"real apical frame (the real loops, the held-out frames as stored and re-cut) plus {unsure['margin']}. "
                   "It is a second line behind the view classifier, for views it lets through (a parasternal or "
                   "subcostal view of another scanner, an explicit `--view alax`):\n\n" + _unsure_rows(unsure) +
                   "\n\nThe re-imaged copies it stops are frames no reader could segment (gain saturated over the "
                   "fan, noise over everything: top row of `docs/unsure_check.png`); it stops about half of the "
                   "parasternal copies and of the turned hearts, not all: the view classifier stays the first line. Small "
                   "apical thumbnails beside a Doppler strip (a sector a quarter of the screen wide) are often stopped too: "
                   "at that size the network is unsure of the walls.") \
        if unsure else "Not measured yet: run `python -m training.segmentation.unsure_check`."
    return f"""# {run['name']}: LV / MYO / LA segmentation of apical echo views

Default segmentation model of the app. A compact U-Net (depthwise-separable convolutions, stride-2 stem,
additive skips, {run['parameters']:,} parameters, {size_mb:.1f} MB ONNX) that labels each pixel of an apical
two- or four-chamber B-mode frame as background, left-ventricular cavity (LV), myocardium (MYO) or left atrium (LA).

**For non-commercial research only** (trained on CAMUS data, CC BY-NC-SA 4.0). Not a medical device.

## Input and output contract
- File: `model.onnx` (opset 17), one input `input`, one output `scores`; batch size free.
- Input: (N, 1, 256, 256) float32, **raw gray values 0-255**, in the app's **canonical framing**
  (`echoquality.core.framing.network_view`, ONNX metadata `framing=fan`): the scanned fan is found in the frame
  (`echoquality.core.fan`: black background, text, ECG, grey-scale bars, ticks and logos left out), its bounding box
  (+2 % margin) is resized to fit 256x256 keeping the physical aspect ratio from the pixel spacing, top-aligned
  (apex up) and centred, and everything outside the fan is black. Intensity scaling ((x - 50) / 50) is inside the
  graph; give no other normalisation.
- Output: (N, 4, 256, 256) class scores (logits); `argmax` over axis 1 gives 0 background, 1 LV, 2 MYO, 3 LA.
  The app then keeps one plausible component per structure inside the fan (`echoquality.core.cleanup`) and maps
  labels back to the frame through the same box (`Framing.to_frame`, nearest neighbour).
- ONNX metadata `mirror_average=1`: the app averages the scores of the frame and of its left-right mirror image
  (two passes, `SegmentationModel.scores`) when analysing recordings; live chains run one pass (half the time; the
  Dice it costs is under Validation).
- Either display convention works (LV on the left or right of the screen): training mirrors frames.

## Training data and license
- {run['train_frames']} frames from {run['train_patients']} patients of the project's CAMUS subset (apical 2- and
  4-chamber views, end-diastole and end-systole, 512x512 as published, labels recovered from JPEG-compressed
  images); split by patient, seed {run['seed']}.
- CAMUS: S. Leclerc et al., "Deep Learning for Segmentation using an Open Large-Scale Dataset in 2D
  Echocardiography", IEEE Transactions on Medical Imaging 38(9):2198-2210, 2019. Please cite it when you use
  this model.
- The CAMUS data are licensed CC BY-NC-SA 4.0; this model is derived from them and is therefore shared under the
  same terms: **non-commercial research use**, attribution, share-alike.

## Training
`{run.get('command', '.venv/bin/python -m training.segmentation.train --data ../shared/data/camus_subset --out models/' + run['name'])}`
(seeded; PyTorch CPU, {run.get('stop_after', run['epochs'])} epochs of a {run['epochs']}-epoch schedule, batch {run['batch']}, AdamW lr {run['lr']} with warm-up and cosine decay,
weight decay {run['weight_decay']}, cross-entropy + soft Dice, exported weights are an exponential moving average
(decay {run['ema']}); {run['train_minutes']:.0f} min on 2 CPU cores). Widths {run['widths']}, encoder depths {run['depths']}. Then
`python -m training.segmentation.unsure_check --data ../shared/data/camus_subset --negatives ../shared/data/non_apical --write`
sets the gate's limit of close calls in the ONNX metadata (see "When the model is unsure").

Scanner and setting variation (`training/segmentation/augment.py`): {native_text}re-imaged as another
scanner would show it — a new screen of any size and aspect, a new fan (opening 60–110°, any depth, apex inside or
above the screen), the heart zoomed 0.7–1.4, stretched anisotropically 0.75–1.33 (CAMUS frames were stretched to
square), rotated ±12° and shifted, fan parts the source does not cover filled with magnified tissue of the same
frame (labelled background, like the right heart and lungs of a wide fan), left-right mirrored; overlays burned in
(text, grey-scale bar, depth ticks, ECG trace sometimes crossing the fan, logo), blur and JPEG compression
(quality 20–90).{edge_text} The screen then goes through the app's own fan finding and framing, and the network input gets
grey-level changes: log-compression (dynamic range), gamma, gain, depth-gain (TGC) curves, speckle-like and
additive noise. Validation frames take the app's path untouched: framing, network, clean-up.

## Validation (by patient)
{val_text}{_other_split_text(folder, validation)}{_second_member_text(folder)}

## Real loops without labels (the real-frame check)
{real_text}

## Fans that fill or run over the frame (the framing check)
{framing_text}

## When the model is unsure (part of the gate)
{unsure_text}

## Wall completion (part of the app's clean-up)
Where the network leaves a stretch of the LV border with no wall next to it (a faint lateral wall the beam
misses: the network stops the LV at the noise instead), `echoquality.core.wall` lays the myocardium there at the
thickness of the wall the network did draw, inside the fan and never across the valve plane, as experts draw faint
walls; the quality stage then scores what the image shows there (low where the wall is not visible) instead of
leaving the region without a score. It acts only when the drawn wall lines at least 40 % of the LV border. On the
149 CAMUS frames it changed 8 (none of the held-out ones: the Dice above is unchanged), all eight towards the
cardiologists' masks: MYO Dice 0.60 -> 0.76 on average (each frame +0.07 to +0.26; `tests/core/test_wall.py`
checks three of them). On the echotk loop it completed the lateral wall in half of the frames.

## Speed (one frame per call, through `echoquality.inference.registry`, argmax included)
{speed_text}

{exploration}
## Before and after
**Two models ago** (whole frame stretched to 256x256, no clean-up), on the echotk GE loop (grey-scale bar, ticks
and logo beside a 59° fan) the model drew the LV over the lateral wall up to the fan's edge and the LA outside the
atrium (`docs/real_frames_echotk_a4c_previous_model.png`): one LV, MYO and LA in 5 % of the frames, 2.3 % of
labelled pixels outside the fan, six myocardial regions in 25 %.
**The previous model** (canonical fan framing and scanner variation, widths 24-192 with an 8-channel
full-resolution refinement, 278 k parameters) kept every label inside the fan but drew the faint lateral wall of
echotk as MYO in only 5 of 20 frames (six regions in 25 %); E95 100 %, wall 8.8 mm; held-out CAMUS LV 0.892,
MYO 0.804, LA 0.885 (mirror averaged); 8.5 ms per pass on one thread of this machine.
**This model** adds wall dropout and apical haze to training (a side wall fades into the noise floor, its label
kept, as experts draw faint walls) and drops the full-resolution refinement and a third of the width (the
exploration below found they bought no Dice): six myocardial regions on echotk in half of the frames, E95 still
100 %, held-out CAMUS within 0.01 of the previous model (the ±0.015 standard error of 27 frames), and one pass
2.6x cheaper (3.3 ms on one thread), which is what lets the live chain keep up with 60 frames/s.

## Limitations
- The faint, dropped-out lateral wall of the echotk loop is still missed in half of its 20 frames (mostly where the
  LV border runs along the fan's edge; the wall outside it is left as background), so the lateral regions are
  invalid there.
- Self-training on a real loop was tried and not kept (session 6): the shipped command plus every 8th frame of the
  E95 loop labelled by this model (`--pseudo-loops data/samples/e95_a4c.mp4 --pseudo-every 8`: 25 frames beside
  the 122 CAMUS ones). Held-out CAMUS within the noise (LV 0.888, MYO 0.799, LA 0.887 mirror averaged), but on
  the echotk loop it never saw the network drew the lateral wall itself in 15 % of the frames instead of 50 %
  (the wall completion then filled 85 %), and E95 walls thinned from 10.1 to 9.0 mm: the network learnt the
  E95 loop's look and its own mistakes rather than anything general. One run, one seed.
- Training on exports cut by the image's edges was tried and not kept (session 6): the shipped command plus
  `--edge-cut 0.3`. Held-out CAMUS 0.891 / 0.803 / 0.883 mirror averaged (noise-level gain); on the re-cut
  frames of the framing check the LA held (0.878-0.890 instead of 0.828-0.864) and six regions were valid in
  every frame; but on the real echotk loop the network drew the lateral wall itself in 25 % of the frames
  instead of 50 % (walls 6.9 instead of 8.2 mm; the wall completion still gives six regions in all). The real
  loop was given the casting vote; one run, one seed, so both differences may be seed noise.
{_stop_after_text(run)}- Trained on {run['train_frames']} frames only (the full CAMUS set has 500 patients); validation on
  {run['val_frames']} frames has a standard error of roughly ±0.015 Dice. Validation Dice is below nnU-Net's on
  the full CAMUS set; the errors are mostly the myocardium's thickness and the LV/MYO border at end-systole.
- Apical two- and four-chamber views only; no aorta class (apical long-axis views need the paper's model).
- CAMUS comes from one scanner family (GE Vivid E95) and one hospital; other scanners, presets and probe
  frequencies may segment worse. The real loops have no labels: their check (above; `tests/inference/test_segmentation_e95.py`)
  measures plausibility (one structure each, wall thickness, regions, steadiness), not accuracy.
"""


def write_card(folder: str | Path) -> Path:
    """Render and write folder/README.md."""
    folder = Path(folder)
    path = folder / "README.md"
    path.write_text(render(folder))
    return path


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["models/camus_seg_lite"]:
        print(write_card(arg))

"""Model card (README.md) of an exported segmentation model, from its training.json and speed.json.

    .venv/bin/python -m training.segmentation.card models/NAME
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

EXPLORATION_FILE = Path(__file__).with_name("exploration.md")


def _dice_rows(validation: dict) -> str:
    rows = ["| structure | mean Dice | SD | worst frame | mean Dice, mirrored frames |", "|---|---|---|---|---|"]
    for name, v in validation["as_is"].items():
        m = validation["mirrored"][name]
        rows.append(f"| {name} | {v['mean']:.3f} | {v['std']:.3f} | {v['min']:.3f} | {m['mean']:.3f} |")
    return "\n".join(rows)


def _speed_rows(speed: dict) -> str:
    rows = ["| backend | median ms/frame | p95 ms/frame |", "|---|---|---|"]
    for backend, r in speed.get("results", {}).items():
        if "error" in r:
            rows.append(f"| {backend} | unavailable | |")
        else:
            rows.append(f"| {backend} | {r['median_ms']:.2f} | {r['p95_ms']:.2f} |")
    return "\n".join(rows)


def render(folder: Path) -> str:
    """The card's markdown for a model folder."""
    run = json.loads((folder / "training.json").read_text())
    speed_file = folder / "speed.json"
    speed = json.loads(speed_file.read_text()) if speed_file.is_file() else None
    size_mb = (folder / "model.onnx").stat().st_size / 1e6
    validation = run.get("validation")
    val_text = (f"Held-out patients ({len(run['val_patients'])} patients, {run['val_frames']} frames; no frame of them "
                f"was used for training or model selection: the exported weights are those after the last epoch). "
                f"Dice at network size (256x256) against the reference labels resized with nearest neighbour; mean over "
                f"frames. The mirrored column runs the same frames flipped left-right (the other display convention).\n\n"
                + _dice_rows(validation) + "\n\nThe issue's goal, the level of nnU-Net trained on the full CAMUS set "
                "(about 12x more data), is LV 0.93, MYO 0.87, LA 0.90: this model does not reach it (see Limitations).") \
        if validation else "No validation split (trained on every patient)."
    speed_text = (_speed_rows(speed) + f"\n\n{speed.get('machine', '')}") if speed else \
        "Not measured yet: run `benchmarks/bench_segmentation.py`."
    exploration = EXPLORATION_FILE.read_text() if EXPLORATION_FILE.is_file() else ""
    return f"""# {run['name']}: LV / MYO / LA segmentation of apical echo views

Default segmentation model of the app. A compact U-Net (depthwise-separable convolutions, stride-2 stem,
additive skips, {run['parameters']:,} parameters, {size_mb:.1f} MB ONNX) that labels each pixel of an apical
two- or four-chamber B-mode frame as background, left-ventricular cavity (LV), myocardium (MYO) or left atrium (LA).

**For non-commercial research only** (trained on CAMUS data, CC BY-NC-SA 4.0). Not a medical device.

## Input and output contract
- File: `model.onnx` (opset 17), one input `input`, one output `scores`; batch size free.
- Input: (N, 1, 256, 256) float32, **raw gray values 0-255**. The whole frame (H, W) is resized to 256x256
  with `cv2.INTER_AREA` — no crop, no padding, aspect ratio not kept — exactly like the paper's published
  models. Intensity scaling ((x - 50) / 50) is inside the graph; give no other normalisation.
- Output: (N, 4, 256, 256) class scores (logits); `argmax` over axis 1 gives 0 background, 1 LV, 2 MYO, 3 LA.
  Map labels back to the frame with nearest-neighbour resizing.
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
(seeded; PyTorch CPU, {run['epochs']} epochs, batch {run['batch']}, AdamW lr {run['lr']} with warm-up and cosine decay,
weight decay {run['weight_decay']}, cross-entropy + soft Dice, exported weights are an exponential moving average
(decay {run['ema']}); {run['train_minutes']:.0f} min on 2 CPU cores). Widths {run['widths']}, encoder depths {run['depths']}.

Augmentation (ultrasound-specific): left-right mirroring; rotation (±15°), scaling (0.75-1.25) and aspect change
(0.8-1.25, sector width vs depth) about the sector apex, shifts; narrower and shallower sectors (tissue outside
becomes black background); gain, gamma, depth-gain (TGC) ramps, multiplicative speckle-like noise, additive noise,
Gaussian blur and resolution loss.

## Validation (by patient)
{val_text}

## Speed (one frame per call, through `pipelines.model_registry`, argmax included)
{speed_text}

{exploration}
## Limitations
- Trained on {run['train_frames']} frames only (the full CAMUS set has 500 patients); validation on
  {run['val_frames']} frames has a standard error of roughly ±0.015 Dice. Validation Dice is below nnU-Net's on
  the full CAMUS set; the errors are mostly the myocardium's thickness and the LV/MYO border at end-systole.
- Apical two- and four-chamber views only; no aorta class (apical long-axis views need the paper's model).
- CAMUS comes from one scanner family (GE Vivid E95) and one hospital; other scanners, presets and probe
  frequencies may segment worse. The E95 demo loop has no labels: its check (one LV, MYO and LA component in
  most frames, `tests/test_segmentation_e95.py`; `docs/segmentation_e95_montage.png`) is qualitative.
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

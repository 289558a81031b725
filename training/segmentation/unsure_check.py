"""How unsure the segmentation is on apical views and on what is not one, and the limit the app stops frames at.

    .venv/bin/python -m training.segmentation.unsure_check --data ../shared/data/camus_subset
        [--negatives ../shared/data/non_apical] [--model camus_seg_lite] [--copies 20] [--seed 0]
        [--json models/NAME/unsure_check.json] [--write]

The measure (`echoquality.core.segmentation.uncertain_share`): the share of the pixels the network
labelled LV, MYO or LA inside the fan whose class won with a probability below 0.7. Measured in
one pass (the live chain) and as the model is run on recordings (mirror averaged when its metadata
says so), on:
- apical views it never learnt from: the held-out patients' frames as stored and cut like other
  scanners' exports (`framing_check`), the same frames re-imaged `--copies` times as other scanners
  and settings would show them (`augment.reimage` and `augment.grey_levels`), and every frame of the
  real loops (E95, echotk);
- what is not an apical view: the held-out hearts turned 55-110 deg in the fan (long axis across
  it, as in parasternal and subcostal views) and, with `--negatives`, the parasternal sectors of the
  Philips iE33 DICOMs zoomed, shifted, turned and mirrored `--copies` times; the DICOMs' small apical
  thumbnails (two A4C, one apical five-chamber beside Doppler strips) are shown apart.

The limit: the largest share of any real loop's frame and any held-out frame (as stored or cut), in
either pass, plus MARGIN, rounded up to 0.01. The re-imaged copies do not set it: their most unsure
ones are frames no reader could segment (saturated gain, noise over the whole fan; see the montage),
which are better stopped than scored. `--write` puts the limit in the model's ONNX metadata
(`max_uncertain_share`), where the app reads it; `--montage` draws the most unsure re-imaged copies
and the parasternal sectors with the network's contours and their shares.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import fast  # noqa: F401  (FAST before anything that may load Qt)
import cv2
import numpy as np

from echoquality.core.framing import network_view
from echoquality.core.segmentation import UNCERTAIN_LEVEL, labels_from_scores, uncertain_share
from echoquality.inference.registry import DEFAULT_SEGMENTATION, load_segmentation_model, resolve_model
from echoquality.sources.playback import open_source

from .augment import AugmentConfig, grey_levels, reimage, source_of
from .dataset import load_folder
from .framing_check import CUTS, held_out, recut
from .real_frames import DEFAULT_LOOPS

log = logging.getLogger("unsure_check")
# The limit lies this far above the most unsure real apical frame.
MARGIN = 0.03
APICAL, NOT_APICAL, THUMBNAIL = "apical", "not apical", "apical thumbnail"


def shares(model, image: np.ndarray, spacing=None, levels: np.random.Generator | None = None
           ) -> tuple[float, float, np.ndarray, np.ndarray]:
    """(one pass, as run on recordings) uncertain shares of a frame through the app's framing, the network image and
    its one-pass labels; `levels`: grey-level changes drawn from this generator first."""
    view = network_view(image, spacing)
    net = view.image
    if levels is not None and view.sector.any():
        net = np.clip(grey_levels(net.astype(np.float32), view.sector, levels, AugmentConfig()), 0, 255)
    batch = net[None, None].astype(np.float32)
    one_pass = model.scores(batch, False)
    return (uncertain_share(one_pass[0], view.sector), uncertain_share(model.scores(batch)[0], view.sector),
            net.astype(np.uint8), labels_from_scores(one_pass)[0])


def measure(model, model_folder: Path, data: Path, negatives: Path | None, copies: int, seed: int, loops: list[Path]
            ) -> tuple[list[dict], list[tuple[str, float, np.ndarray, np.ndarray]]]:
    """One row per group of frames (its kind, name and the uncertain shares of its frames in both passes), and the
    re-imaged copies and parasternal sectors as (name, one-pass share, network image, labels) for the montage."""
    from training.view.samples import APICAL_THUMBNAILS, PARASTERNAL, jitter_screen, read_dicom_screen, sector_of, turned

    rng = np.random.default_rng(seed)
    samples = held_out(load_folder(data), model_folder)
    groups: list[tuple[str, str, list[tuple[float, float]]]] = []
    for cut in CUTS:
        groups.append((APICAL, f"held-out CAMUS, {cut.name}", [shares(model, recut(s.image, s.mask, cut)[0])
                                                                for s in samples]))
    groups.append((APICAL, f"held-out CAMUS re-imaged x{copies}",
                   [shares(model, reimage(source_of(s.image, s.mask), rng)[0], levels=rng)
                    for s in samples for _ in range(copies)]))
    for loop in loops:
        groups.append((APICAL, f"{loop.name} (every frame)", [shares(model, f.image, f.spacing) for f in open_source(str(loop))]))
    groups.append((NOT_APICAL, f"held-out hearts turned in the fan x{max(1, copies // 5)}",
                   [shares(model, reimage(turned(s, rng), rng)[0]) for s in samples for _ in range(max(1, copies // 5))]))
    if negatives is not None:
        for path in sorted(Path(negatives).glob("*.dcm")):
            screen, box = read_dicom_screen(path)
            if box is None or (path.stem not in PARASTERNAL and path.stem not in APICAL_THUMBNAILS):
                continue
            sector = sector_of(screen, box)
            kind = NOT_APICAL if path.stem in PARASTERNAL else THUMBNAIL
            what = "parasternal sector" if kind == NOT_APICAL else f"{APICAL_THUMBNAILS[path.stem]} thumbnail"
            groups.append((kind, f"{path.stem} {what} x{copies}",
                           [shares(model, jitter_screen(sector, rng, (0.8, 1.3))) for _ in range(copies)]))
    rows, drawn = [], []
    for kind, name, values in groups:
        if "re-imaged" in name or "parasternal" in name:
            drawn += [(name.split(" x")[0], v[0], v[2], v[3]) for v in values]
        table = np.array([v[:2] for v in values], np.float64)
        rows.append({"kind": kind, "frames": name, "n": len(values),
                     "one_pass": table[:, 0].tolist(), "recording": table[:, 1].tolist()})
        log.info("%s: %s, median %.3f / %.3f", kind, name, *np.median(table, axis=0))
    return rows, drawn


def choose_limit(rows: list[dict]) -> float:
    """The largest share of the real loops' and the held-out frames (not the re-imaged copies), both passes,
    plus MARGIN, rounded up to 0.01."""
    top = max(max(max(row["one_pass"]), max(row["recording"])) for row in rows
              if row["kind"] == APICAL and "re-imaged" not in row["frames"])
    return float(np.ceil((top + MARGIN) * 100 - 1e-9) / 100)


def montage(drawn: list[tuple[str, float, np.ndarray, np.ndarray]], limit: float, path: Path) -> None:
    """Top row pair: the 8 most unsure re-imaged apical copies; bottom pair: each parasternal sector's most and least
    unsure copy; contours LV red, MYO green, LA blue; share in the corner, red when the limit stops the frame."""
    reimaged = sorted((d for d in drawn if "re-imaged" in d[0]), key=lambda d: -d[1])[:8]
    sectors: dict[str, list] = {}
    for d in drawn:
        if "parasternal" in d[0]:
            sectors.setdefault(d[0], []).append(d)
    para = [pick for group in sectors.values() for pick in (max(group, key=lambda d: d[1]), min(group, key=lambda d: d[1]))]
    tiles = []
    for name, share, image, labels in reimaged + para:
        tile = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        for label, colour in ((1, (0, 0, 255)), (2, (0, 255, 0)), (3, (255, 0, 0))):
            contours, _ = cv2.findContours((labels == label).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            cv2.drawContours(tile, contours, -1, colour, 1)
        colour = (80, 80, 255) if share > limit else (255, 255, 255)
        cv2.putText(tile, f"{share:.2f}", (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1)
        cv2.putText(tile, name.replace("held-out CAMUS ", "")[:30], (4, 250), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                    (255, 255, 255), 1)
        tiles.append(tile)
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % 8)
    grid = np.vstack([np.hstack(tiles[i:i + 8]) for i in range(0, len(tiles), 8)])
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), grid)


def summary(rows: list[dict], limit: float) -> list[dict]:
    """Per group: frames, median and p95 share, and the share of frames the limit stops (both passes)."""
    out = []
    for row in rows:
        entry = {"kind": row["kind"], "frames": row["frames"], "n": row["n"]}
        for key in ("one_pass", "recording"):
            values = np.array(row[key])
            entry[key] = {"median": round(float(np.median(values)), 3), "p95": round(float(np.quantile(values, 0.95)), 3),
                          "stopped": round(float(np.mean(values > limit)), 3)}
        out.append(entry)
    return out


def write_metadata(onnx_path: Path, key: str, value: str) -> None:
    """Set one metadata entry of an ONNX file (other entries kept)."""
    import onnx
    graph = onnx.load(str(onnx_path))
    kept = [(p.key, p.value) for p in graph.metadata_props if p.key != key]
    del graph.metadata_props[:]
    for k, v in kept + [(key, value)]:
        entry = graph.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.save(graph, str(onnx_path))


def write_limit(onnx_path: Path, limit: float) -> None:
    """Set the metadata entry max_uncertain_share of an ONNX file (other entries kept)."""
    write_metadata(onnx_path, "max_uncertain_share", f"{limit:.2f}")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="CAMUS frames with masks (the model's held-out patients are used)")
    p.add_argument("--negatives", default="", help="folder of the non-apical DICOMs (../shared/data/non_apical)")
    p.add_argument("--model", default=DEFAULT_SEGMENTATION)
    p.add_argument("--loops", nargs="*", default=[str(p) for p in DEFAULT_LOOPS], help="real apical loops")
    p.add_argument("--copies", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default="", help="where to write the summary (e.g. models/NAME/unsure_check.json)")
    p.add_argument("--write", action="store_true", help="put the limit in the model's ONNX metadata")
    p.add_argument("--montage", default="", help="PNG to draw (e.g. docs/unsure_check.png)")
    args = p.parse_args(argv)
    model = load_segmentation_model(args.model)
    loops = [Path(loop) for loop in args.loops if Path(loop).is_file()]
    rows, drawn = measure(model, resolve_model(args.model).parent, Path(args.data), Path(args.negatives) if args.negatives else None, args.copies, args.seed,
                   loops)
    limit = choose_limit(rows)
    report = {"limit": limit, "level": UNCERTAIN_LEVEL, "margin": MARGIN, "groups": summary(rows, limit)}
    log.info("limit: %.2f", limit)
    for entry in report["groups"]:
        log.info("%-16s %-60s n=%4d stopped %.1f %% / %.1f %%", entry["kind"], entry["frames"], entry["n"],
                 100 * entry["one_pass"]["stopped"], 100 * entry["recording"]["stopped"])
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    if args.montage:
        montage(drawn, limit, Path(args.montage))
    if args.write:
        write_limit(resolve_model(args.model), limit)
        log.info("wrote max_uncertain_share=%.2f into %s", limit, resolve_model(args.model))
    return 0


if __name__ == "__main__":
    sys.exit(main())

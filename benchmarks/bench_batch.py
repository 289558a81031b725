"""Batch throughput on this machine: files/s and frames/s of `batch` on a local Dask cluster of 1 and 2
workers (per file: runtime and frames/s, median and p95), on an archive built from the bundled real loop
(stretches of it as .npy and .mp4) and the shared non-apical DICOMs.

    .venv/bin/python -m benchmarks.bench_batch [--loops 8] [--frames 30] [--workers 1 2]

Models are loaded on every worker before the clock starts (as they are once per worker in a long run).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from echoquality.batch.engine import connect, run_batch
from echoquality.batch.worker import warm_up
from echoquality.commands.analyze import AnalysisSettings

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "samples" / "e95_a4c.mp4"
NON_APICAL = ROOT.parent / "shared" / "data" / "non_apical"


def build_archive(folder: Path, loops: int, frames: int) -> int:
    """`loops` distinct stretches of the real loop (alternately .npy and .mp4) and the non-apical DICOMs."""
    video = cv2.VideoCapture(str(DEMO))
    images = []
    while True:
        ok, image = video.read()
        if not ok:
            break
        images.append(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    folder.mkdir(parents=True)
    for i in range(loops):
        start = (i * 7) % max(1, len(images) - frames)
        stretch = np.stack(images[start:start + frames])
        stretch[:, :2, :2] = i   # distinct content even when the stretches overlap
        if i % 2:
            writer = cv2.VideoWriter(str(folder / f"loop_{i}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 60.0,
                                     stretch.shape[2:0:-1])
            for image in stretch:
                writer.write(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
            writer.release()
        else:
            np.save(folder / f"loop_{i}.npy", stretch)
    dicoms = sorted(NON_APICAL.glob("*.dcm"))
    for path in dicoms:
        shutil.copy(path, folder / path.name)
    return loops + len(dicoms)


def stats(values: list[float], unit: str) -> str:
    return f"median {np.median(values):7.2f} {unit}  p95 {np.percentile(values, 95):7.2f} {unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loops", type=int, default=8)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--method", default="")
    args = parser.parse_args()
    settings = AnalysisSettings(method=args.method)
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "archive"
        n_files = build_archive(archive, args.loops, args.frames)
        print(f"archive: {args.loops} loops of {args.frames} frames and {n_files - args.loops} non-apical DICOMs")
        for n in args.workers:
            client = connect(workers=n)
            try:
                client.run(warm_up, dataclasses.asdict(settings))
                start = time.perf_counter()
                report = run_batch([str(archive)], Path(tmp) / f"out_{n}", settings, client)
                seconds = time.perf_counter() - start
            finally:
                cluster = client.cluster
                client.close()
                cluster.close()
            done = [r for r in report.rows if r.get("status") == "done" and not r.get("reused")]
            frames = sum(r["frames"] for r in done)
            label = f"{n} worker{'s' if n > 1 else ' '}"
            print(f"{label}: {len(done) / seconds:5.2f} files/s {frames / seconds:6.1f} frames/s  "
                  f"({len(done)} files, {frames} frames in {seconds:.1f} s; "
                  f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
            for kind, rows in (("loops", [r for r in done if not r["source"].endswith(".dcm")]),
                               ("DICOMs", [r for r in done if r["source"].endswith(".dcm")])):
                if rows:
                    runtimes = [r["runtime_s"] for r in rows]
                    rates = [r["frames"] / r["runtime_s"] for r in rows if r["runtime_s"]]
                    print(f"  per file, {kind:6s}: runtime {stats(runtimes, 's')};  frames/s {stats(rates, '/s')}")


if __name__ == "__main__":
    main()

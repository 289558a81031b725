"""Many short in-process `analyze` runs in one process, to catch rare crashes of the two-half chain.

    .venv/bin/python -m benchmarks.stress_pipelines [--runs 60] [--frames 12]

Each run analyses two copies of a small noise loop (two pipelines a run, the gate stops every frame
quickly). A crash ends the process with exit status -11 and `faulthandler`'s traces of every thread;
a clean finish prints the number of pipelines. Session 4: about one crash in 6,600 pipelines
(one process in 55 at the defaults), one in 1,100 before the handoff copies; session 5, with no FAST
streamer threads in the chain: none in 400 processes (48,000 pipelines).
"""
from __future__ import annotations

import argparse
import faulthandler
import logging
import sys
import tempfile
from pathlib import Path

import fast  # noqa: F401  (FAST first, as the app imports it)
import numpy as np

from echoquality.commands.analyze import AnalysisSettings, analyze


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--frames", type=int, default=12)
    args = parser.parse_args()
    faulthandler.enable()
    logging.disable(logging.WARNING)
    folder = Path(tempfile.mkdtemp(prefix="stress_pipelines_"))
    loop = folder / "loop.npy"
    np.save(loop, np.random.default_rng(0).integers(0, 255, (args.frames, 120, 160), dtype=np.uint8))
    for run in range(args.runs):
        analyze([str(loop), str(loop)], folder / f"out{run}", AnalysisSettings("gcnr", "a4c", ""))
    print(f"stress: {2 * args.runs} pipelines, no crash", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Glass-to-result latency of live OpenIGTLink analysis.

A scanner simulator in a child process streams a loop at --fps (60 by default) over
loopback; this process receives it with IGTLSource and either
  --chain receive : only receives and decodes (transport latency), or
  --chain analyze : runs the whole analysis chain as `analyze` does with a live source (echoquality.streaming.graph:
                    two halves on two threads, one frame in each, so the source keeps only the newest frame while
                    the chain is busy; one segmentation pass; no split screen unless --save-video).
Latency = wall clock when the result is ready minus the sender's header timestamp
(same machine, same clock). Prints median and p95, frames received, dropped and analysed.

    .venv/bin/python -m benchmarks.bench_igtl_latency --chain analyze --seconds 30
"""
from __future__ import annotations

import argparse
import logging
import os
import socket
import subprocess
import sys
import threading

import numpy as np
import time
from pathlib import Path

try:                    # run as a module (python -m benchmarks.bench_igtl_latency) or as a file
    from benchmarks.competing_load import competing_load, describe
except ModuleNotFoundError:
    from competing_load import competing_load, describe

ROOT = Path(__file__).resolve().parents[1]
STAGE_MS: dict[str, list[float]] = {}   # time per frame in each stage of the chain (analyze)

SENDER = """
import logging, sys
logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s", force=True)
from echoquality.sources.igtl.simulator import simulate_scanner
sys.exit(simulate_scanner(sys.argv[1], port=int(sys.argv[2]), fps=float(sys.argv[3])))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sender(loop: str, port: int, fps: float) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", SENDER, loop, str(port), str(fps)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        if "streaming" in line:
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()   # keep draining
            return proc
    raise SystemExit(f"the scanner simulator did not start (exit {proc.wait()})")


def run_receive(src, seconds: float) -> int:
    """Receive only; latency recorded when each frame is handed over."""
    end = time.monotonic() + seconds
    n = 0
    for frame in src:
        if frame.timestamp is not None:
            src.counters.record_latency(time.time() - frame.timestamp)
        n += 1
        if time.monotonic() > end:
            break
    return n


def run_analyze(src, seconds: float, args) -> int:
    """The lead's chain (echoquality.streaming.graph) fed by the live source; latency recorded at the sink."""
    import fast  # noqa: F401  (before anything Qt)

    from echoquality.inference.registry import DEFAULT_SEGMENTATION, load_segmentation_model, resolve_method
    from echoquality.streaming.graph import build

    segmentation = load_segmentation_model(args.segmentation or DEFAULT_SEGMENTATION, args.backend)
    method, method_name = resolve_method(args.method, args.backend)
    end = time.monotonic() + seconds
    done = [0]

    def frames():
        for frame in src:
            yield frame
            if time.monotonic() > end:
                return

    def on_result(result):
        if result.frame.timestamp is not None:
            src.counters.record_latency(time.time() - result.frame.timestamp)
        done[0] += 1
        for stage, ms in result.timings_ms.items():
            STAGE_MS.setdefault(stage, []).append(ms)

    pipeline = build(frames(), segmentation, method, method_name, on_result, args.view, max_in_flight=1,
                     parallel=not args.sequential, mirror=False, reuse_fan=True,   # as analyze does for live sources
                     split_screen=args.save_video)
    pipeline.run()
    return done[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", default=str(ROOT / "data/samples/e95_a4c.mp4"))
    parser.add_argument("--fps", type=float, default=60.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--chain", choices=("receive", "analyze"), default="analyze")
    parser.add_argument("--segmentation", default="")
    parser.add_argument("--method", default="")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--view", default="a4c")
    parser.add_argument("--sequential", action="store_true", help="the whole chain on one thread (for comparison)")
    parser.add_argument("--save-video", action="store_true",
                        help="compose the split screen of every frame, as analyze --save-video does (default: as analyze)")
    parser.add_argument("--busy", type=int, default=0, help="child processes keeping a core busy meanwhile (a "
                        "controlled competing load; benchmarks/competing_load.py)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from echoquality.sources.igtl.receiver import IGTLSource

    port = free_port()
    sender = start_sender(args.loop, port, args.fps)
    src = IGTLSource(f"igtl://127.0.0.1:{port}", timeout_s=5)
    with competing_load(args.busy):
        start, cpu0 = time.monotonic(), time.process_time()
        try:
            n = run_receive(src, args.seconds) if args.chain == "receive" else run_analyze(src, args.seconds, args)
        finally:
            elapsed, cpu = time.monotonic() - start, time.process_time() - cpu0
            src.close()
            sender.terminate()
            sender.wait(timeout=10)
    c = src.counters
    print(f"chain: {args.chain}, input {args.fps:g} frames/s for {elapsed:.1f} s, {os.cpu_count()} CPUs")
    print(describe(args.busy))
    print(f"frames: received {c.received}, analysed {n} ({n / elapsed:.1f}/s), "
          f"dropped {c.received - n} ({c.dropped} by the receiver's newest-frame slot), corrupt {c.corrupt}")
    print(f"analysed live: {100 * n / max(c.received, 1):.1f} % of the frames received "
          f"({100 * (c.received - n) / max(c.received, 1):.1f} % dropped)")
    print(f"glass-to-result latency: median {c.latency_median_s * 1e3:.1f} ms, p95 {c.latency_p95_s * 1e3:.1f} ms")
    print(f"this process used {100 * cpu / elapsed:.0f}% of one CPU")
    if STAGE_MS:
        print("stages, median / p95 ms: " + ", ".join(f"{k} {np.median(v):.1f} / {np.percentile(v, 95):.1f}" for k, v in STAGE_MS.items()))
    print(f"sender-to-decoded latency: median {c.arrival_median_s * 1e3:.1f} ms, p95 {c.arrival_p95_s * 1e3:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""GUI speed on a replayed loop: frames shown per second, latency, UI-thread cost and stalls (median, p95).

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m benchmarks.bench_gui [--source FILE] [--seconds 15]
        [--segmentation NAME_OR_FOLDER] [--method NAME]

Frames/s is what the window showed (files replay in real time, late frames are dropped);
latency is frame entering the chain → drawn result; "UI handler" is the main-thread time per
frame; "render" is one full repaint of the split screen; "timer lateness" is how late a 20 ms
UI timer fires (the responsiveness the user feels).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import fast  # noqa: F401  (before PyQt6)
import numpy as np
from PyQt6.QtCore import QSettings, QTimer
from PyQt6.QtWidgets import QApplication

from app.main_window import MainWindow
from app.theme import apply_dark_theme

try:                    # run as a module (python -m benchmarks.bench_gui) or as a file
    from benchmarks.competing_load import competing_load, describe
except ModuleNotFoundError:
    from competing_load import competing_load, describe


def stats(name: str, values, unit: str) -> None:
    values = np.asarray(values, np.float64)
    if values.size == 0:
        print(f"{name:<22} no samples")
        return
    print(f"{name:<22} median {np.median(values):7.1f} {unit}   p95 {np.percentile(values, 95):7.1f} {unit}"
          f"   (n={values.size})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(ROOT / "data" / "samples" / "e95_a4c.mp4"))
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--segmentation", default="")
    parser.add_argument("--method", default="")
    parser.add_argument("--busy", type=int, default=0, help="child processes keeping a core busy meanwhile (a "
                        "controlled competing load; benchmarks/competing_load.py)")
    args = parser.parse_args()

    app = QApplication(sys.argv[:1])
    apply_dark_theme(app)
    store = QSettings(str(Path(tempfile.mkdtemp()) / "bench.ini"), QSettings.Format.IniFormat)
    window = MainWindow(args.source, args.method or None, "a4c", args.segmentation, store=store)
    window.set_loop(True)
    window.resize(1600, 960)
    window.show()

    shown, latencies, handler_ms, lateness = [], [], [], []
    original = window._on_analysed

    def timed(analysed):
        start = time.perf_counter()
        original(analysed)
        end = time.perf_counter()
        handler_ms.append((end - start) * 1e3)
        shown.append(end)
        latencies.append((end - analysed.sent_at) * 1e3)

    window.worker.analysed.disconnect(window._on_analysed)
    window._on_analysed = timed
    window.worker.analysed.connect(lambda a: timed(a))

    last_tick = [time.perf_counter()]
    timer = QTimer()
    timer.setInterval(20)

    def tick():
        now = time.perf_counter()
        lateness.append(max(0.0, (now - last_tick[0]) * 1e3 - 20.0))
        last_tick[0] = now

    timer.timeout.connect(tick)
    timer.start()

    # Qt's own event loop, as the app runs it (a polling loop would wake the UI thread 500 times a second).
    deadline = time.perf_counter() + args.warmup + args.seconds
    ui_cpu = {}

    def begin_measuring() -> None:
        ui_cpu["start"], ui_cpu["process_start"] = time.thread_time(), time.process_time()

    def end() -> None:
        ui_cpu["end"], ui_cpu["process_end"] = time.thread_time(), time.process_time()
        app.quit()

    def check_failed() -> None:
        if window.worker is None or window.worker.state == "failed":
            end()

    QTimer.singleShot(int(args.warmup * 1000), begin_measuring)
    QTimer.singleShot(int((args.warmup + args.seconds) * 1000), end)
    watchdog = QTimer()
    watchdog.timeout.connect(check_failed)
    watchdog.start(250)
    with competing_load(args.busy):
        app.exec()
    watchdog.stop()
    measured = "start" in ui_cpu and "end" in ui_cpu
    process_cpu = ui_cpu["process_end"] - ui_cpu["process_start"] if measured else float("nan")
    ui_cpu = ui_cpu["end"] - ui_cpu["start"] if measured else float("nan")
    if window.failure:
        print(f"error: {window.failure}", file=sys.stderr)
        window.close()
        return 1
    start = deadline - args.seconds
    keep = [i for i, t in enumerate(shown) if t >= start]
    times = np.array([shown[i] for i in keep])
    render = []
    for _ in range(20):
        t = time.perf_counter()
        window.images_area.grab()
        render.append((time.perf_counter() - t) * 1e3)
    print(f"source {args.source}, segmentation {args.segmentation or 'default'}, method {window.method}")
    print(describe(args.busy))
    total = window.stats.dropped + window.stats.shown
    print(f"frames shown          {len(times) / args.seconds:7.1f} frames/s over {args.seconds:.0f} s "
          f"(dropped {window.stats.dropped} of {total} so far: {100 * window.stats.dropped / max(total, 1):.1f} %)")
    stats("frame interval", np.diff(times) * 1e3, "ms")
    stats("latency", [latencies[i] for i in keep], "ms")
    stats("UI handler", [handler_ms[i] for i in keep], "ms")
    stats("render split screen", render, "ms")
    print(f"UI thread CPU          {100 * ui_cpu / args.seconds:7.1f} % of one core")
    print(f"process CPU            {100 * process_cpu / args.seconds:7.1f} % of one core (all threads: receiving, "
          "analysis, drawing)")
    stats("timer lateness", lateness[len(lateness) // 5:], "ms")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Regional image quality for echocardiography: the single command-line entry (`echoquality`, `launch.py`).

    echoquality                          # the GUI on the bundled demo loop
    echoquality analyze INPUT... --out DIR
    echoquality batch ARCHIVE... --out DIR [--cluster tcp://HOST:8786]
    echoquality regions MASK... --out DIR
    echoquality simulate-scanner LOOP
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from pathlib import Path

from echoquality.core.view import AUTO
from echoquality.core.vocabulary import VIEWS
from echoquality.paths import DEMO_LOOP, PROJECT_ROOT
from echoquality.sources.limits import MAX_FPS, MAX_SPACING_MM, MIN_FPS, MIN_SPACING_MM

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _number(text: str, low: float, high: float, what: str) -> float:
    """A finite number within [low, high] for argparse; one line naming the flag's rule otherwise."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise argparse.ArgumentTypeError(f"{text!r}: {what}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be 1 or more")
    return value


def frame_rate(text: str) -> float:
    return _number(text, MIN_FPS, MAX_FPS, f"frame rate must be a number from {MIN_FPS:g} to {MAX_FPS:g}")


def seconds(text: str) -> float:
    value = _number(text, 0.0, 365 * 86400.0, "must be a positive number of seconds")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a positive number of seconds")
    return value


def spacing_mm(text: str) -> float:
    return _number(text, MIN_SPACING_MM, MAX_SPACING_MM,
                   f"pixel spacing must be a number of mm from {MIN_SPACING_MM:g} to {MAX_SPACING_MM:g}")


def port(text: str) -> int:
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: a TCP port is 1 to 65535")
    return value


def folder(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty name is not a folder")
    return text


def log_level(text: str) -> str:
    if text.upper() not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"{text!r}: choose from {', '.join(LOG_LEVELS)}")
    return text.upper()


def _spacing(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spacing", nargs=2, type=spacing_mm, metavar=("SY", "SX"),
                        help="pixel spacing in mm (rows, columns); overrides the file's")


def _analyze_parser(sub) -> None:
    p = sub.add_parser("analyze", help="headless analysis of files or a live stream")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="video (MP4/AVI), .npy, PNG/JPG, DICOM, .mhd (name_#.mhd for a sequence) or igtl://HOST:PORT[/DEVICE]")
    p.add_argument("--out", required=True, type=folder, help="output folder")
    p.add_argument("--method", default="", help="quality method: gcnr, cnr, cr, intensity, pmax, e2e, or a quality model folder")
    p.add_argument("--view", nargs="+", default=[AUTO], choices=(AUTO,) + VIEWS, metavar="VIEW",
                   help="auto (recognised per frame; default), or a4c, a2c, alax as given: one for every input, "
                        "or one per input (in order)")
    p.add_argument("--same-patient", action="store_true",
                   help="the inputs are of one patient: biplane EF from its A4C and A2C inputs (research use)")
    p.add_argument("--segmentation", default="", help="segmentation model name or folder (default: the bundled model)")
    p.add_argument("--backend", default="auto", help="inference backend: auto, openvino, onnxruntime-cpu, onnxruntime-cuda")
    p.add_argument("--save-masks", action="store_true", help="write masks/<stem>_<frame>.png label maps")
    p.add_argument("--save-regions", action="store_true", help="write regions/<stem>_<frame>.png region maps")
    p.add_argument("--save-video", action="store_true", help="write <stem>_split.mp4 split-screen videos")
    p.add_argument("--max-frames", type=positive_int, help="analyse at most N frames of each input")
    p.add_argument("--timeout", type=seconds, help="live streams: stop after S seconds without a frame")
    p.add_argument("--fps", type=frame_rate, help="frame rate, overriding the file's")
    p.add_argument("--batch-size", type=positive_int, default=1, metavar="N",
                   help="recorded inputs: analyse N frames at a time, the networks on the whole batch "
                        "(default 1: frame by frame; live inputs always frame by frame)")
    _spacing(p)


def _batch_parser(sub) -> None:
    p = sub.add_parser("batch", help="analyse archives of recordings on a Dask cluster, resumably")
    p.add_argument("archives", nargs="+", metavar="ARCHIVE", help="folders (walked recursively) or files")
    p.add_argument("--out", required=True, type=folder, help="output folder (recordings.parquet/.csv, frames/, done/)")
    p.add_argument("--cluster", help="Dask scheduler address, tcp://HOST:8786 (default: a local cluster)")
    p.add_argument("--workers", type=positive_int, help="local cluster: worker processes (default: one per core)")
    p.add_argument("--redo-failed", action="store_true", help="analyse again the files an earlier run could not read")
    p.add_argument("--method", default="", help="quality method (see analyze)")
    p.add_argument("--view", default=AUTO, choices=(AUTO,) + VIEWS,
                   help="'auto': recognised per frame (the gate); or the view of every recording")
    p.add_argument("--segmentation", default="", help="segmentation model name or folder")
    p.add_argument("--backend", default="auto", help="inference backend (see analyze)")
    p.add_argument("--max-frames", type=positive_int, help="analyse at most N frames of each recording")
    p.add_argument("--fps", type=frame_rate, help="frame rate, overriding the file's")
    _spacing(p)


def _regions_parser(sub) -> None:
    p = sub.add_parser("regions", help="divide label maps into the eight regions")
    p.add_argument("masks", nargs="+", metavar="MASK", help="label maps: 0 bg, 1 LV, 2 MYO, 3 LA, 4 AO")
    p.add_argument("--out", required=True, type=folder, help="output folder")
    _spacing(p)


def _simulator_parser(sub) -> None:
    p = sub.add_parser("simulate-scanner", help="stream a loop as OpenIGTLink IMAGE messages")
    p.add_argument("loop", help="any replayable file")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=port, default=18944)
    p.add_argument("--fps", type=frame_rate)
    p.add_argument("--device", default="Image")
    p.add_argument("--frames", type=positive_int, help="stop after N frames (default: loop forever)")
    _spacing(p)


def _gui_parser(sub) -> None:
    p = sub.add_parser("gui", help="the split-screen application")
    p.add_argument("--source", default=str(DEMO_LOOP), help="igtl://HOST:PORT[/DEVICE] or a file (default: the demo loop)")
    p.add_argument("--method", default="", help="quality method (see analyze)")
    p.add_argument("--view", choices=(AUTO,) + VIEWS, help="auto (recognised) or a4c, a2c, alax; default: the last session's")
    p.add_argument("--segmentation", default="")
    p.add_argument("--backend", default="auto")
    p.add_argument("--screenshot", help="save a PNG of the window and quit (with --quit-after-frames)")
    p.add_argument("--quit-after-frames", type=positive_int, help="quit after N analysed frames")


def route_warnings() -> None:
    """Library warnings go through logging, not raw to the terminal; RuntimeWarnings (NaN arithmetic in
    numpy on odd frames, whose outcome the results already show) only at DEBUG."""
    import warnings

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        level = logging.DEBUG if issubclass(category, RuntimeWarning) else logging.WARNING
        logging.getLogger("py.warnings").log(level, "%s:%s: %s: %s", filename, lineno, category.__name__, message)

    warnings.showwarning = show


def has_display() -> bool:
    """True when a window can be shown (an X/Wayland display, or Qt's offscreen platform asked for)."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                or os.environ.get("QT_QPA_PLATFORM") == "offscreen")


def import_fast_quietly() -> None:
    """Import FAST (before PyQt6, as it must be) without its banner on stdout."""
    if "fast" in sys.modules:
        return
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime = Path("/tmp") / f"runtime-{os.getuid()}"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    sys.stdout.flush()
    saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        import fast  # noqa: F401
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def main(argv: list[str] | None = None) -> int:
    """The command line; a Ctrl-C before the command has set up its own handling exits 130 with one line."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=Path(sys.argv[0]).name or "echoquality", description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", type=log_level, default=os.environ.get("LOG_LEVEL", "WARNING"))
    sub = parser.add_subparsers(dest="command")
    _analyze_parser(sub)
    _batch_parser(sub)
    _regions_parser(sub)
    _simulator_parser(sub)
    _gui_parser(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    route_warnings()
    analyzing = args.command == "analyze" or args.command is None and not (has_display() and _gui_available())
    stop = None
    if analyzing:   # signals handled from before the first model or frame (FAST's handler is replaced)
        from echoquality.commands.stop import StopRequest
        stop = StopRequest().install()
    import_fast_quietly()
    if stop is not None:
        stop.install()

    if args.command == "analyze":
        from echoquality.commands.analyze import AnalysisSettings, analyze
        if len(args.view) not in (1, len(args.inputs)):
            parser.error(f"--view: give one view for every input, or one per input ({len(args.inputs)}), "
                         f"not {len(args.view)}")
        settings = AnalysisSettings(args.method, args.view[0], args.segmentation, args.backend, args.save_masks,
                                    args.save_regions, args.save_video, args.max_frames, args.timeout, args.fps,
                                    tuple(args.spacing) if args.spacing else None,
                                    views=tuple(args.view) if len(args.view) > 1 else (),
                                    same_patient=args.same_patient, batch_size=args.batch_size)
        return analyze(args.inputs, args.out, settings, stop)
    if args.command == "batch":
        from echoquality.commands.analyze import AnalysisSettings
        from echoquality.commands.batch import batch_command
        settings = AnalysisSettings(args.method, args.view, args.segmentation, args.backend,
                                    max_frames=args.max_frames, fps=args.fps,
                                    spacing=tuple(args.spacing) if args.spacing else None)
        if args.workers is not None and args.cluster:
            parser.error("--workers is for the local cluster; a cluster at --cluster has its own workers")
        return batch_command(args.archives, args.out, settings, args.cluster, args.workers, args.redo_failed)
    if args.command == "regions":
        from echoquality.commands.regions import regions_command
        return regions_command(args.masks, args.out, tuple(args.spacing) if args.spacing else None)
    if args.command == "simulate-scanner":
        from echoquality.sources.igtl.simulator import simulate_scanner
        return simulate_scanner(args.loop, host=args.host, port=args.port, fps=args.fps, device=args.device,
                                n_frames=args.frames, spacing=tuple(args.spacing) if args.spacing else None)
    if args.command == "gui" or (args.command is None and has_display() and _gui_available()):
        from echoquality.commands.gui import run_gui
        gui = args if args.command == "gui" else parser.parse_args(["gui"])
        return run_gui(gui.source, method=gui.method, view=gui.view, segmentation=gui.segmentation,
                       backend=gui.backend, screenshot=gui.screenshot, quit_after_frames=gui.quit_after_frames)
    # No command: the main job on the bundled demo loop (the GUI when it exists and a display is present).
    from echoquality.commands.analyze import AnalysisSettings, analyze
    out = Path("out") / "demo"
    print(f"analysing the bundled demo loop {DEMO_LOOP.name} → {out}/")
    return analyze([str(DEMO_LOOP)], out, AnalysisSettings(save_video=True), stop)


def _gui_available() -> bool:
    return (PROJECT_ROOT / "app" / "main_window.py").is_file()


if __name__ == "__main__":
    sys.exit(main())

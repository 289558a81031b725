"""`echoquality gui`: the split-screen application; with --screenshot or --quit-after-frames, a headless run."""
from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from pathlib import Path

from PyQt6.QtCore import QObject, QTimer
from PyQt6.QtWidgets import QApplication

from app import analysis_worker as aw
from app.main_window import MainWindow
from app.theme import apply_dark_theme

log = logging.getLogger(__name__)

HEADLESS_IDLE_S = 60.0          # a headless run gives up after this long without a new frame
HEADLESS_SIZE = (1600, 960)


class HeadlessRun(QObject):
    """Ends the application after `frames` shown frames, when the analysis ends, or when no frame comes.

    Saves a screenshot of the window first; the exit status is 1 when the source or the models failed.
    """

    def __init__(self, window: MainWindow, frames: int, screenshot: str | Path | None = None):
        super().__init__(window)
        self.window, self.frames = window, max(1, int(frames))
        self.screenshot = Path(screenshot) if screenshot else None
        self.exit_status = 0
        self._done = False
        self._last_frame = time.monotonic()
        window.headless = True
        window.frame_shown.connect(self._on_frame)
        window.analysis_ended.connect(self._on_ended)
        self._idle = QTimer(self)
        self._idle.timeout.connect(self._check_idle)
        self._idle.start(250)

    def _on_frame(self, _analysed) -> None:
        self._last_frame = time.monotonic()
        if self.window.frames_shown >= self.frames:
            self.finish()

    def _on_ended(self, state: str) -> None:
        if state == aw.FAILED:
            self.exit_status = 1
        self.finish()

    def _check_idle(self) -> None:
        if time.monotonic() - self._last_frame > HEADLESS_IDLE_S:
            self.window.failure = self.window.failure or f"no frame for {HEADLESS_IDLE_S:.0f} s"
            self.finish()

    def finish(self) -> None:
        """Save the screenshot, say what failed, close the window and leave the event loop."""
        if self._done:
            return
        self._done = True
        self._idle.stop()
        self.window.refresh_status()
        if self.screenshot is not None:
            try:
                self.screenshot.parent.mkdir(parents=True, exist_ok=True)
                if not self.window.grab().save(str(self.screenshot), "PNG"):
                    raise OSError("could not write the PNG")
                print(f"screenshot: {self.screenshot}")
            except OSError as error:
                print(f"error: {self.screenshot}: {error}", file=sys.stderr)
                self.exit_status = 1
        if self.window.failure:
            print(f"error: {self.window.failure}", file=sys.stderr)
            self.exit_status = 1
        self.window.close()
        QApplication.instance().exit(self.exit_status)


def run_gui(source: str, method: str = "", view: str | None = None, segmentation: str = "", backend: str = "auto",
            screenshot: str | None = None, quit_after_frames: int | None = None) -> int:
    """Open the window on a source; exit status 0, or 1 when the source or the models failed in a headless run."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Regional image quality")
    apply_dark_theme(app)
    window = MainWindow(source, method or None, view, segmentation, backend)
    run = None
    if screenshot or quit_after_frames:
        run = HeadlessRun(window, quit_after_frames or 30, screenshot)
        window.resize(*HEADLESS_SIZE)
    window.show()
    quitting = QuitOnSignals(window)
    status = app.exec()
    if quitting.signum:
        return 128 + quitting.signum
    return run.exit_status if run is not None else status


class QuitOnSignals(QObject):
    """SIGINT (Ctrl-C), SIGTERM and SIGHUP close the window as its close button does (the recording is
    finished, settings saved); a second one exits at once. A timer gives Python the turn to see signals
    while Qt's event loop runs."""

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window, self.signum = window, 0
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._handle)
        self._tick = QTimer(self)
        self._tick.timeout.connect(lambda: None)
        self._tick.start(200)
        log.info("Ctrl-C, SIGTERM or SIGHUP close the window")

    def _handle(self, signum, frame) -> None:
        if self.signum:
            import os
            os._exit(128 + signum)
        self.signum = signum
        sys.stderr.write(f"\n{signal.Signals(signum).name}: closing\n")
        QTimer.singleShot(0, self._close)

    def _close(self) -> None:
        self.window.close()
        QApplication.instance().exit(128 + self.signum)

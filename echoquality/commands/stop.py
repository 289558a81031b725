"""Stopping a command cleanly on SIGINT (Ctrl-C), SIGTERM or SIGHUP (no FAST import: installed before FAST loads)."""
from __future__ import annotations

import os
import signal
import threading


class StopRequest:
    """SIGINT (Ctrl-C), SIGTERM and SIGHUP end the analysis cleanly: frames in progress finish, files are
    closed (the MP4 gets its index) and the summary is printed; exit status 128 + the signal. A second
    signal aborts at once (rows already written are whole). `install()` as early as possible: a signal
    that comes before the first frame stops the run before it starts.
    """

    SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

    def __init__(self):
        self.requested = False
        self.signum: int | None = None
        self.source = None
        self._previous: dict[int, object] = {}

    def install(self) -> "StopRequest":
        """Handle the signals from now on (again: another library may have replaced the handlers)."""
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                previous = signal.signal(sig, self._handle)
                self._previous.setdefault(sig, previous)
        return self

    def __enter__(self) -> "StopRequest":
        return self.install()

    def __exit__(self, *exc) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()

    @property
    def exit_status(self) -> int:
        return 128 + (self.signum or signal.SIGINT)

    def _handle(self, signum, frame) -> None:
        if self.requested:
            os.write(2, f"\naborted by a second {signal.Signals(signum).name}\n".encode())
            os._exit(128 + signum)
        self.requested, self.signum = True, signum
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        os.write(2, f"\n{name}: stopping after the frames in progress ({name} again to abort)\n".encode())
        self.close_source()

    def close_source(self) -> None:
        close = getattr(self.source, "close", None)
        if close is not None:
            close()

    def frames(self, stream):
        """`stream` until a stop is requested."""
        for frame in stream:
            if self.requested:
                return
            yield frame

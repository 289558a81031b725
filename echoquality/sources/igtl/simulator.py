"""A stand-in scanner: replays a loop as OpenIGTLink IMAGE messages through pyigtl.

Each frame goes out as a single-slice uint8 IMAGE (size W x H x 1) with the pixel
spacing in its matrix and the send time in its header timestamp, at the loop's
frame rate (or --fps), looping until n_frames have been sent or it is stopped.
It serves one client at a time, binds to loopback unless told otherwise, and only
sends while a client is connected (frames are not queued for a client to come).
"""
from __future__ import annotations

import collections
import logging
import math
import select
import signal
import socketserver
import struct
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pyigtl
from pyigtl.comm import OpenIGTLinkBase

from echoquality.sources.igtl.protocol import DEFAULT_PORT, encode_timestamp
from echoquality.core.records import Frame

log = logging.getLogger(__name__)

DEFAULT_FPS = 30.0
SEND_QUEUE = 8           # frames waiting for the socket at most (bounds the lag a slow client sees)
PACKED_CACHE_BYTES = 256 * 1024 * 1024   # loops up to this size are packed once and re-stamped per send
_TIMESTAMP = slice(34, 42)               # the timestamp field in the 58-byte header (after version, type, device)


class Restamped:
    """A message pyigtl packed once, sent again with the send time in its header. The timestamp is
    not covered by the CRC (only the body is), so the body and its CRC are reused as they are: a
    real scanner does not spend a CPU core re-encoding a loop, and neither should its stand-in on
    the machine that runs the analysis."""

    def __init__(self, packed: bytes, timestamp: float):
        self.packed, self.timestamp = packed, timestamp

    def pack(self) -> bytes:
        out = bytearray(self.packed)
        out[_TIMESTAMP] = struct.pack(">Q", encode_timestamp(self.timestamp))
        return bytes(out)


class _ClientHandler(socketserver.BaseRequestHandler):
    """Sends queued messages to one client; notices when it leaves (no tracebacks)."""

    def handle(self) -> None:
        server: ScannerServer = self.server  # type: ignore[assignment]
        sock = self.request
        with server.lock_outgoing_messages:
            server.outgoing_messages.clear()
        server._set_connected(True)
        log.info("Client %s:%d connected", *self.client_address[:2])
        reason = "stopped"
        try:
            while not server.communication_thread_stop_requested:
                message = server._take(timeout=0.1)
                if message is not None:
                    sock.sendall(message.pack())
                readable, _, _ = select.select([sock], [], [], 0)
                if readable and not sock.recv(65536):
                    reason = "client closed the connection"
                    break
        except OSError as exc:
            reason = exc.strerror or str(exc)
        finally:
            server._set_connected(False)
        log.info("Client %s:%d left (%s)", *self.client_address[:2], reason)


class ScannerServer(pyigtl.OpenIGTLinkServer):
    """pyigtl's OpenIGTLink server bound to any host, quiet, without signal handlers."""

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT):
        OpenIGTLinkBase.__init__(self)
        self.outgoing_messages = collections.deque(maxlen=SEND_QUEUE)
        self.host = host
        self.allow_reuse_address = True
        self._wake = threading.Condition()
        socketserver.TCPServer.__init__(self, (host, port), _ClientHandler)
        self.port = self.server_address[1]
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2},
                                        daemon=True, name=f"scanner-simulator {host}:{self.port}")

    def start(self) -> None:
        self._thread.start()

    def push(self, message: pyigtl.MessageBase) -> None:
        """Queue a message for the connected client (the oldest goes when the queue is full)."""
        with self.lock_outgoing_messages:
            self.outgoing_messages.append(message)
        with self._wake:
            self._wake.notify_all()

    def wait_for_client(self, timeout: float) -> bool:
        """True once a client is connected (waits up to timeout seconds)."""
        with self._wake:
            return self._wake.wait_for(lambda: self._connected, timeout)

    def wait_until_sent(self, timeout: float) -> None:
        """Wait until the queue is empty or no client is left."""
        with self._wake:
            self._wake.wait_for(lambda: not self.outgoing_messages or not self._connected, timeout)

    def _take(self, timeout: float) -> pyigtl.MessageBase | None:
        with self._wake:
            if not self.outgoing_messages:
                self._wake.wait(timeout)
            with self.lock_outgoing_messages:
                message = self.outgoing_messages.popleft() if self.outgoing_messages else None
            self._wake.notify_all()
            return message

    def _set_connected(self, connected: bool) -> None:
        with self._wake:
            self._connected = connected
            self._wake.notify_all()

    def stop(self) -> None:
        self.communication_thread_stop_requested = True
        self.shutdown()
        self.server_close()


def image_message(frame: Frame, device: str, spacing: tuple[float, float], timestamp: float) -> pyigtl.ImageMessage:
    """pyigtl IMAGE message of a frame: (1, H, W) voxels, spacing on the i (columns) and j (rows) axes."""
    sy, sx = spacing
    matrix = np.diag([sx, sy, 1.0, 1.0])
    return pyigtl.ImageMessage(np.ascontiguousarray(frame.image, dtype=np.uint8)[None, :, :],
                               ijk_to_world_matrix=matrix, timestamp=timestamp, device_name=device)


def _load_loop(loop: str | Path) -> list[Frame]:
    """Every frame of a replayable loop (any file `open_source` reads)."""
    from echoquality.sources.playback import open_source

    path = Path(loop)
    if not path.exists():
        raise ValueError(f"{loop}: no such file or folder")
    source = open_source(str(path))
    try:
        frames = list(source)
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()
    if not frames:
        raise ValueError(f"{loop}: the loop has no frames")
    return frames


def loop_fps(frames: list[Frame]) -> float | None:
    """Frame rate from the frames' times (None when they carry none)."""
    times = np.array([f.time_s for f in frames], dtype=np.float64)
    steps = np.diff(times)
    steps = steps[steps > 0]
    return float(1.0 / np.median(steps)) if steps.size else None


def _forever(frames: list[Frame]) -> Iterator[tuple[int, Frame]]:
    while True:
        yield from enumerate(frames)


def simulate_scanner(frames: Iterable[Frame] | str | Path, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                     fps: float | None = None, device: str = "Image", n_frames: int | None = None,
                     spacing: tuple[float, float] | None = None, stop: threading.Event | None = None) -> int:
    """Stream a loop (a path or frames) as a scanner would; exit status 0 done or stopped by `stop`, 2 bad
    input, 128 + the signal when stopped by SIGINT (Ctrl-C), SIGTERM or SIGHUP (handled from the main thread).

    fps: the loop's own rate when None (30 when it has none). n_frames: stop after that many
    frames were sent to a client (None: loop until stopped by Ctrl-C or `stop`).
    spacing (sy, sx) mm: overrides the loop's pixel spacing.
    """
    stop = stop or threading.Event()
    try:
        loop = _load_loop(frames) if isinstance(frames, (str, Path)) else list(frames)
    except Exception as exc:   # any unreadable loop: one message, no traceback
        log.error("Scanner simulator: %s", exc)
        return 2
    if not loop:
        log.error("Scanner simulator: the loop has no frames")
        return 2
    name = str(frames) if isinstance(frames, (str, Path)) else loop[0].source
    if fps is None:
        fps = loop_fps(loop) or DEFAULT_FPS
    if not (math.isfinite(fps) and fps > 0):
        log.error("Scanner simulator: --fps must be a positive number, not %s", fps)
        return 2
    if spacing is not None and not all(math.isfinite(s) and s > 0 for s in spacing):
        log.error("Scanner simulator: --spacing must be two positive numbers (mm), not %s", spacing)
        return 2
    if len(device.encode("utf-8")) > 20:
        log.error("Scanner simulator: device name %r is longer than 20 bytes", device)
        return 2
    if spacing is None and not loop[0].spacing_known:
        log.warning("Scanner simulator: %s has no pixel spacing; sending %.3f x %.3f mm (set --spacing)",
                    name, *loop[0].spacing)
    signals = _StopOnSignals(stop)    # before listening: a client never meets a simulator deaf to Ctrl-C
    try:
        server = ScannerServer(host, port)
    except (OSError, OverflowError) as exc:
        signals.restore()
        log.error("Scanner simulator: cannot listen on %s:%s (%s)", host, port, getattr(exc, "strerror", None) or exc)
        return 2
    server.start()
    log.info("Scanner simulator: streaming %s (%d frames) as device %r on %s:%d at %.1f frames/s",
             name, len(loop), device, host, server.port, fps)
    sent = [0]
    try:
        _stream(server, loop, fps, device, n_frames, spacing, stop, sent)
        if not stop.is_set():
            server.wait_until_sent(timeout=2.0)
    except KeyboardInterrupt:
        signals.signum = signals.signum or signal.SIGINT
    finally:
        signals.restore()
        server.stop()
    if signals.signum:
        log.info("Scanner simulator: stopped by %s", signal.Signals(signals.signum).name)
    log.info("Scanner simulator: %d frames sent", sent[0])
    return 128 + signals.signum if signals.signum else 0


class _StopOnSignals:
    """SIGINT, SIGTERM and SIGHUP set `stop` (from the main thread only; elsewhere nothing changes)."""

    def __init__(self, stop: threading.Event):
        self.signum = 0
        self._stop = stop
        self._previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                self._previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame) -> None:
        self.signum = self.signum or signum
        self._stop.set()

    def restore(self) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)


def _stream(server: ScannerServer, loop: list[Frame], fps: float, device: str, n_frames: int | None,
            spacing: tuple[float, float] | None, stop: threading.Event, counter: list[int]) -> int:
    """Send frames at fps while a client is connected; frames sent (also kept in counter[0] as they go)."""
    period = 1.0 / fps
    sent = 0
    frames = _forever(loop)
    cache = sum(f.image.nbytes for f in loop) <= PACKED_CACHE_BYTES
    packed: dict[int, bytes] = {}
    next_t = time.monotonic()
    while not stop.is_set() and (n_frames is None or sent < n_frames):
        if not server.wait_for_client(timeout=0.5):
            next_t = time.monotonic()
            continue
        delay = next_t - time.monotonic()
        if delay > 0 and stop.wait(delay):
            break
        next_t = max(next_t + period, time.monotonic() - period)   # late: carry on, no burst
        position, frame = next(frames)
        if not cache:
            server.push(image_message(frame, device, spacing or frame.spacing, time.time()))
        else:
            if position not in packed:
                packed[position] = image_message(frame, device, spacing or frame.spacing, 0.0).pack()
            server.push(Restamped(packed[position], time.time()))
        sent += 1
        counter[0] = sent
    return sent

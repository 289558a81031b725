"""Live frames from a scanner over OpenIGTLink: `igtl://HOST[:PORT][/DEVICE]`.

A background thread owns the socket: it connects, reconnects with backoff when the
scanner stops, restarts or disappears, cuts the stream into messages (CRC checked,
body size capped, resynchronised after garbage), decodes IMAGE messages into
grayscale uint8 frames and keeps only the newest one for the consumer. A scanner
that stays connected but sends no image for `freeze_after_s`, or sends more than
three STATUS messages in a row (FAST's freeze rule), is reported as frozen.
"""
from __future__ import annotations

import logging
import math
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import numpy as np

from echoquality.core.gate import ColourEvidence, colour_evidence
from echoquality.sources.igtl import protocol as proto
from echoquality.core.records import Frame
from echoquality.core.vocabulary import default_spacing

log = logging.getLogger(__name__)

CONNECTING, STREAMING, FROZEN, DISCONNECTED = "connecting", "streaming", "frozen", "disconnected"

POLL_S = 0.25                 # socket wait between checks of stop / freeze (no busy loop)
INITIAL_BACKOFF_S = 0.1
LATENCY_WINDOW = 10_000       # latencies kept for the median / p95


@dataclass(frozen=True)
class IGTLAddress:
    """Where the scanner is, and which image device to use (None: the first one seen)."""
    host: str
    port: int
    device: str | None


def parse_igtl_url(url: str) -> IGTLAddress:
    """Address of `igtl://HOST[:PORT][/DEVICE]`; ValueError naming the problem."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() != "igtl":
        raise ValueError(f"{url}: not an OpenIGTLink address (expected igtl://HOST:PORT[/DEVICE])")
    if not parts.hostname:
        raise ValueError(f"{url}: no host (expected igtl://HOST:PORT[/DEVICE])")
    try:
        port = parts.port if parts.port is not None else proto.DEFAULT_PORT
    except ValueError:
        raise ValueError(f"{url}: the port must be a number from 1 to 65535") from None
    if not 0 < port < 65536:
        raise ValueError(f"{url}: the port must be a number from 1 to 65535")
    device = parts.path.strip("/") or None
    if device is not None and (len(device.encode("utf-8")) > 20 or "/" in device):
        raise ValueError(f"{url}: device name {device!r} is not a device name (at most 20 bytes, no '/')")
    if parts.query or parts.fragment:
        raise ValueError(f"{url}: unexpected '?' or '#' part")
    return IGTLAddress(parts.hostname, port, device)


@dataclass
class StreamCounters:
    """What happened on the stream so far (updated by the receiver thread)."""
    received: int = 0        # images of the chosen device decoded
    delivered: int = 0       # frames handed to the consumer
    dropped: int = 0         # frames replaced by a newer one before the consumer took them
    corrupt: int = 0         # bad stretches: garbage, bad CRC, absurd size, truncated message
    rejected: int = 0        # well-formed IMAGE messages that cannot be used (type, size, layout)
    ignored: int = 0         # other message types and other devices
    reconnects: int = 0      # connections made after a lost one
    frozen_events: int = 0   # times the scanner was found frozen
    _latency: deque = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW), repr=False)
    _arrival: deque = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW), repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record_latency(self, seconds: float) -> None:
        """Record one sender-timestamp-to-result latency."""
        with self._lock:
            self._latency.append(float(seconds))

    def record_arrival(self, seconds: float) -> None:
        """Record one sender-timestamp-to-decoded-frame latency (receiver side)."""
        with self._lock:
            self._arrival.append(float(seconds))

    def _percentile(self, which: deque, q: float) -> float:
        with self._lock:
            values = np.fromiter(which, dtype=np.float64)
        return float(np.percentile(values, q)) if values.size else math.nan

    @property
    def latency_median_s(self) -> float:
        return self._percentile(self._latency, 50)

    @property
    def latency_p95_s(self) -> float:
        return self._percentile(self._latency, 95)

    @property
    def arrival_median_s(self) -> float:
        return self._percentile(self._arrival, 50)

    @property
    def arrival_p95_s(self) -> float:
        return self._percentile(self._arrival, 95)

    def as_dict(self) -> dict[str, float]:
        """Counts and latencies (seconds) for reports."""
        out: dict[str, float] = {k: getattr(self, k) for k in (
            "received", "delivered", "dropped", "corrupt", "rejected", "ignored",
            "reconnects", "frozen_events")}
        out.update(latency_median_s=self.latency_median_s, latency_p95_s=self.latency_p95_s,
                   arrival_median_s=self.arrival_median_s, arrival_p95_s=self.arrival_p95_s)
        return out

    def summary(self) -> str:
        """One line for the log."""
        lat = (f", latency median {self.latency_median_s * 1e3:.0f} ms p95 {self.latency_p95_s * 1e3:.0f} ms"
               if self._latency else "")
        return (f"{self.received} frames received, {self.dropped} dropped, {self.corrupt} corrupt, "
                f"{self.rejected} rejected, {self.reconnects} reconnects, "
                f"{self.frozen_events} freezes{lat}")


@dataclass(frozen=True)
class ImageGeometry:
    """Geometry of the latest image as the scanner sent it (pixels are kept in sent order)."""
    directions: np.ndarray             # (3, 3) unit columns: i (columns), j (rows), k (normal)
    center: tuple[float, float, float]
    coordinate_system: str


class IGTLSource:
    """Iterator of live Frames from an OpenIGTLink scanner (newest frame only).

    Iteration blocks for the next frame and ends when close() is called or when
    `timeout_s` passes without a frame (None: never). Nothing the network does
    raises here: connection loss, garbage and bad messages are logged and counted.
    """

    def __init__(self, url: str, timeout_s: float | None = None, freeze_after_s: float = 2.0, *,
                 max_body_bytes: int = proto.DEFAULT_MAX_BODY_BYTES, status_freeze_count: int = 4,
                 max_backoff_s: float = 1.0, stall_s: float = 3.0, connect_timeout_s: float = 2.0):
        self.url = url
        self.address = parse_igtl_url(url)
        self.timeout_s = timeout_s
        self.freeze_after_s = freeze_after_s
        self.max_body_bytes = max_body_bytes
        self.status_freeze_count = status_freeze_count
        self.max_backoff_s = max_backoff_s
        self.stall_s = stall_s
        self.connect_timeout_s = connect_timeout_s
        self.counters = StreamCounters()
        self.geometry: ImageGeometry | None = None
        self._state = CONNECTING
        self._device: str | None = self.address.device
        self._devices_seen: set[str] = set()
        self._cond = threading.Condition()
        self._slot: Frame | None = None
        self._closed = False
        self._ended = False
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._first_timestamp: float | None = None
        self._first_mono: float | None = None
        self._last_delivery = time.monotonic()
        self._rejections_logged: set[str] = set()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"igtl {self.address.host}:{self.address.port}")
        self._thread.start()

    # ------------------------------------------------------------------ consumer side

    @property
    def state(self) -> str:
        """connecting (no image yet on this connection), streaming, frozen (connected, no images)
        or disconnected (connection lost, retrying with backoff)."""
        return self._state

    @property
    def device(self) -> str | None:
        """The image device in use (None until the first image when none was asked for)."""
        return self._device

    def __iter__(self) -> IGTLSource:
        return self

    def __next__(self) -> Frame:
        with self._cond:
            while self._slot is None:
                if self._closed or self._ended:
                    raise StopIteration
                wait = None
                if self.timeout_s is not None:
                    wait = self._last_delivery + self.timeout_s - time.monotonic()
                    if wait <= 0:
                        log.info("No frame from %s for %.1f s: ending the stream", self.url, self.timeout_s)
                        self._ended = True
                        raise StopIteration
                self._cond.wait(wait)
            frame, self._slot = self._slot, None
        self.counters.delivered += 1
        self._last_delivery = time.monotonic()
        return frame

    def close(self) -> None:
        """Stop receiving; iteration ends. Safe to call more than once."""
        if self._closed:
            return
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._stop.set()
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=3.0)
        self._state = DISCONNECTED
        log.info("Closed %s: %s", self.url, self.counters.summary())

    def __enter__(self) -> IGTLSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ receiver thread

    def _set_state(self, state: str) -> None:
        self._state = state

    def _run(self) -> None:
        host, port = self.address.host, self.address.port
        backoff = INITIAL_BACKOFF_S
        had_connection = False
        last_wait_log = -math.inf
        while not self._stop.is_set():
            try:
                sock = socket.create_connection((host, port), timeout=self.connect_timeout_s)
            except OSError as exc:
                now = time.monotonic()
                if now - last_wait_log > 10.0:
                    log.warning("Waiting for scanner at %s:%d (%s)", host, port, exc.strerror or exc)
                    last_wait_log = now
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
                continue
            if had_connection:
                self.counters.reconnects += 1
            had_connection = True
            last_wait_log = -math.inf
            log.info("Connected to scanner at %s:%d", host, port)
            try:
                got_messages, reason = self._serve(sock)
            except Exception:   # a bug here must not end the receiver: log it and reconnect
                log.exception("Receiver error on %s:%d; reconnecting", host, port)
                got_messages, reason = False, "receiver error"
            finally:
                self._sock = None
                sock.close()
            if self._stop.is_set():
                break
            self._set_state(DISCONNECTED)
            log.warning("Lost scanner at %s:%d (%s); reconnecting", host, port, reason)
            if got_messages:
                backoff = INITIAL_BACKOFF_S
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self.max_backoff_s)

    def _configure(self, sock: socket.socket) -> None:
        sock.settimeout(POLL_S)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in (("TCP_KEEPIDLE", 2), ("TCP_KEEPINTVL", 1), ("TCP_KEEPCNT", 3)):
            if hasattr(socket, name):   # a switched-off scanner is noticed in about 5 s
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)

    def _serve(self, sock: socket.socket) -> tuple[bool, str]:
        """Receive until the connection ends; (any message received, why it ended)."""
        self._configure(sock)
        self._sock = sock
        if self._stop.is_set():
            return False, "closed"
        self._device = self.address.device
        self._set_state(CONNECTING)
        reader = proto.MessageReader(self.max_body_bytes, should_check_crc=self._worth_checking)
        now = time.monotonic()
        self._last_image = self._last_bytes = now
        self._status_run = 0
        got_messages = False
        while not self._stop.is_set():
            try:
                data = sock.recv(1 << 18)
            except TimeoutError:
                data = None
            except OSError as exc:
                self._count_unfinished(reader)
                return got_messages, exc.strerror or str(exc)
            now = time.monotonic()
            if data == b"":
                self._count_unfinished(reader)
                return got_messages, "connection closed by the scanner"
            if data:
                self._last_bytes = now
                for item in reader.feed(data):
                    if isinstance(item, proto.Corruption):
                        self.counters.corrupt += 1
                        log.warning("Corrupt data from %s: %s; resynchronising", self.url, item.reason)
                    else:
                        got_messages = True
                        self._handle(item, time.monotonic())
            elif reader.pending and now - self._last_bytes > self.stall_s:
                self._count_unfinished(reader)
            self._check_freeze(now)
        return got_messages, "closed"

    def _count_unfinished(self, reader: proto.MessageReader) -> None:
        corruption = reader.discard()
        if corruption is not None:
            self.counters.corrupt += 1
            log.warning("Corrupt data from %s: %s", self.url, corruption.reason)

    def _worth_checking(self, header: proto.MessageHeader) -> bool:
        """CRC is skipped only for images of a device we are not using."""
        return not (header.type == "IMAGE" and self._device is not None and header.device != self._device)

    def _handle(self, msg: proto.Message, now: float) -> None:
        header = msg.header
        if header.type == "IMAGE":
            self._handle_image(msg, now)
        elif header.type == "STATUS":
            self.counters.ignored += 1
            self._status_run += 1
            if self._status_run >= self.status_freeze_count and self._state != FROZEN:
                detail = ""
                try:
                    status = proto.parse_status(proto.split_body(header, msg.body).content)
                    detail = f": code {status.code} {status.error_name} {status.message}".rstrip()
                except proto.ProtocolError:
                    pass
                self._freeze(f"{self._status_run} STATUS messages in a row{detail}")
        else:
            self.counters.ignored += 1
            if header.type not in self._rejections_logged and len(self._rejections_logged) < 100:
                self._rejections_logged.add(header.type)
                log.info("Ignoring %s messages from %r (only IMAGE is used)", header.type, header.device)

    def _handle_image(self, msg: proto.Message, now: float) -> None:
        header = msg.header
        self._devices_seen.add(header.device)
        if self._device is None:
            self._device = header.device
            log.info("Using image device %r from %s", header.device, self.url)
        if header.device != self._device:
            self.counters.ignored += 1
            return
        try:
            image = proto.parse_image(proto.split_body(header, msg.body).content)
        except (proto.ProtocolError, proto.UnsupportedImage) as exc:
            self.counters.rejected += 1
            self._log_rejection(header, str(exc))
            return
        gray = proto.to_display_gray(image.pixels)
        sy, sx = image.spacing
        known = all(math.isfinite(s) and s > 0 for s in (sy, sx))
        spacing = (sy, sx) if known else default_spacing(gray.shape[0])
        self.geometry = ImageGeometry(image.directions, image.center, image.coordinate_system)
        evidence = colour_evidence(image.pixels) if image.pixels.ndim == 3 and image.pixels.dtype == np.uint8 \
            else ColourEvidence()
        frame = Frame(image=gray, index=self.counters.received, time_s=self._time_s(header.timestamp, now),
                      spacing=spacing, source=self.url, spacing_known=known, timestamp=header.timestamp,
                      colour=evidence.map, declared_mode=evidence.mode)
        self.counters.received += 1
        if header.timestamp is not None:
            self.counters.record_arrival(time.time() - header.timestamp)
        self._last_image = now
        self._status_run = 0
        if self._state != STREAMING:
            if self._state == FROZEN:
                log.info("Scanner %s streaming again", self.url)
            self._set_state(STREAMING)
        with self._cond:
            if self._slot is not None:
                self.counters.dropped += 1
            self._slot = frame
            self._cond.notify_all()

    def _time_s(self, timestamp: float | None, now: float) -> float:
        """Seconds since the first frame: sender's clock when it has one, else arrival time."""
        if timestamp is not None:
            if self._first_timestamp is None:
                self._first_timestamp = timestamp
            return timestamp - self._first_timestamp
        if self._first_mono is None:
            self._first_mono = now
        return now - self._first_mono

    def _check_freeze(self, now: float) -> None:
        if self._state in (STREAMING, CONNECTING) and now - self._last_image > self.freeze_after_s:
            wanted = f"device {self._device!r}" if self._device else "any device"
            seen = f"; image devices seen: {', '.join(sorted(self._devices_seen))}" if self._devices_seen else ""
            self._freeze(f"no image from {wanted} for {now - self._last_image:.1f} s{seen}")

    def _freeze(self, why: str) -> None:
        self.counters.frozen_events += 1
        self._set_state(FROZEN)
        log.warning("Scanner %s frozen: %s", self.url, why)

    def _log_rejection(self, header: proto.MessageHeader, reason: str) -> None:
        n = self.counters.rejected
        if (reason not in self._rejections_logged and len(self._rejections_logged) < 100) or n % 100 == 0:
            self._rejections_logged.add(reason)
            log.warning("Rejected IMAGE from %r: %s (%d rejected so far)", header.device, reason, n)


def open_igtl_source(url: str, timeout_s: float | None = None, freeze_after_s: float = 2.0) -> IGTLSource:
    """Start receiving from `igtl://HOST[:PORT][/DEVICE]` (default port 18944); SourceError for a bad address."""
    from echoquality.sources.base import SourceError

    try:
        return IGTLSource(url, timeout_s=timeout_s, freeze_after_s=freeze_after_s)
    except ValueError as exc:
        raise SourceError(str(exc)) from None

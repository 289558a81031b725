"""The live OpenIGTLink receiver against real servers on loopback.

Servers: the scanner simulator (pyigtl's server) in this process or in a child
process that is killed, suspended and restarted; and a raw TCP server that sends
crafted bytes. Every wait is bounded.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pyigtl
import pytest

from echoquality.sources.igtl import protocol as proto
from echoquality.sources.files import SourceError
from echoquality.sources.igtl.receiver import CONNECTING, FROZEN, STREAMING, IGTLSource, open_igtl_source, parse_igtl_url
from echoquality.sources.igtl.simulator import simulate_scanner
from echoquality.core.records import Frame
from tests.dicom_files import velocity_scale
from tests.helpers import free_port, wait_for_output, wait_until

ROOT = Path(__file__).resolve().parents[2]
H, W = 48, 64


def synthetic_loop(n: int = 10) -> list[Frame]:
    """Frames whose pixels all equal 10 * (k + 1), so a received frame tells which it was."""
    return [Frame(np.full((H, W), 10 * (k + 1), np.uint8), k, k / 30, (0.3, 0.2), "synthetic") for k in range(n)]


def image_bytes(value: int, device: str = "Image", dtype=np.uint8, timestamp: float | None = None) -> bytes:
    voxels = np.full((1, H, W), value, dtype)
    return pyigtl.ImageMessage(voxels, ijk_to_world_matrix=np.diag([0.2, 0.3, 1.0, 1.0]),
                               timestamp=timestamp or time.time(), device_name=device).pack()


# ----------------------------------------------------------------------------- servers

@pytest.fixture
def simulator():
    """Start the simulator in this process; yields a function (frames, **kw) -> port."""
    stops, threads = [], []

    def start(frames=None, **kw) -> int:
        port = free_port()
        stop = threading.Event()
        t = threading.Thread(target=simulate_scanner, args=(frames or synthetic_loop(),),
                             kwargs=dict(port=port, stop=stop, **kw), daemon=True)
        t.start()
        stops.append(stop)
        threads.append(t)
        return port

    yield start
    for stop in stops:
        stop.set()
    for t in threads:
        t.join(timeout=5)


CHILD_SERVER = """
import logging, sys
import numpy as np
logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s", force=True)
from echoquality.sources.igtl.simulator import simulate_scanner
from echoquality.core.records import Frame
frames = [Frame(np.full((48, 64), 10 * (k + 1), np.uint8), k, k / 30, (0.3, 0.2), "synthetic") for k in range(10)]
sys.exit(simulate_scanner(frames, port=int(sys.argv[1]), fps=30))
"""


class ChildScanner:
    """The simulator in a child process, which a test can kill, suspend and restart."""

    def __init__(self, port: int):
        self.port = port
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> float:
        """Start and wait until it listens; the monotonic time it was ready."""
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen([sys.executable, "-c", CHILD_SERVER, str(self.port)], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return wait_for_output(self.proc, "streaming", timeout, "simulator")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)


@pytest.fixture
def child_scanner():
    scanner = ChildScanner(free_port())
    yield scanner
    if scanner.proc is not None:
        if scanner.proc.poll() is None:
            scanner.proc.send_signal(signal.SIGCONT)
        scanner.kill()
        scanner.proc.stdout.close()


class RawScanner:
    """A loopback TCP server that sends whatever bytes a test gives it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []

    def accept(self) -> socket.socket:
        conn, _ = self.sock.accept()
        self.conns.append(conn)
        return conn

    def close(self) -> None:
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.fixture
def raw_scanner():
    scanner = RawScanner()
    yield scanner
    scanner.close()


@pytest.fixture
def sources():
    """Sources opened by a test, closed at its end."""
    opened: list[IGTLSource] = []

    def open_(url: str, **kw) -> IGTLSource:
        src = IGTLSource(url, **kw)
        opened.append(src)
        return src

    yield open_
    for src in opened:
        src.close()


def take(src: IGTLSource, n: int) -> list[Frame]:
    """Up to n frames (the source's timeout_s bounds each wait)."""
    out = []
    for frame in src:
        out.append(frame)
        if len(out) == n:
            break
    return out


# ----------------------------------------------------------------------------- address

def test_url_parsing():
    a = parse_igtl_url("igtl://scanner")
    assert (a.host, a.port, a.device) == ("scanner", 18944, None)
    a = parse_igtl_url("igtl://10.0.0.5:18945/Image_Reference")
    assert (a.host, a.port, a.device) == ("10.0.0.5", 18945, "Image_Reference")
    assert parse_igtl_url("igtl://[::1]:1234").host == "::1"


@pytest.mark.parametrize("url, problem", [
    ("http://host:1", "not an OpenIGTLink address"),
    ("igtl://:18944", "no host"),
    ("igtl://host:notaport", "port"),
    ("igtl://host:70000", "port"),
    ("igtl://host:1/a/b", "device name"),
    ("igtl://host:1/" + "x" * 21, "device name"),
])
def test_bad_urls_name_the_problem(url, problem):
    with pytest.raises(SourceError, match=problem):
        open_igtl_source(url)


# ----------------------------------------------------------------------------- normal stream

def test_frames_from_the_simulator(simulator, sources):
    port = simulator(synthetic_loop(), fps=60)
    src = sources(f"igtl://127.0.0.1:{port}", timeout_s=10)
    frames = take(src, 15)
    assert len(frames) == 15
    values = [int(f.image[0, 0]) for f in frames]
    assert all(v in range(10, 101, 10) for v in values)
    f = frames[-1]
    assert f.image.shape == (H, W) and f.image.dtype == np.uint8
    assert np.all(f.image == f.image[0, 0])
    assert f.spacing == pytest.approx((0.3, 0.2)) and f.spacing_known
    assert f.timestamp == pytest.approx(time.time(), abs=30)
    assert f.source == f"igtl://127.0.0.1:{port}"
    assert [fr.index for fr in frames] == sorted(fr.index for fr in frames)
    assert frames[-1].time_s > frames[0].time_s >= 0
    assert src.state == STREAMING and src.device == "Image"
    c = src.counters
    assert c.received >= 15 and c.delivered == 15 and c.corrupt == 0 and c.rejected == 0
    assert c.arrival_median_s >= 0


def test_simulator_sends_n_frames_with_the_device_and_spacing_asked(simulator, sources):
    port = simulator(synthetic_loop(3), fps=200, n_frames=7, device="Image_Reference", spacing=(0.5, 0.4))
    src = sources(f"igtl://127.0.0.1:{port}/Image_Reference", timeout_s=3)
    frames = list(src)   # ends once the simulator has stopped and timeout_s passed
    assert src.counters.received == 7
    assert frames and frames[-1].spacing == pytest.approx((0.5, 0.4))
    assert src.device == "Image_Reference"


def test_simulator_replays_the_demo_loop(simulator, sources):
    port = simulator(str(ROOT / "data/samples/e95_a4c.mp4"), fps=60, n_frames=5)
    src = sources(f"igtl://127.0.0.1:{port}", timeout_s=10)
    frames = take(src, 1)
    assert frames and frames[0].image.shape == (588, 634)


def test_simulator_bad_input_is_one_message(tmp_path, caplog):
    assert simulate_scanner(str(tmp_path / "missing.mp4"), port=free_port()) == 2
    assert "missing.mp4" in caplog.text
    assert simulate_scanner(synthetic_loop(), port=free_port(), fps=-1) == 2
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        assert simulate_scanner(synthetic_loop(), port=busy.getsockname()[1]) == 2
    assert "cannot listen" in caplog.text


def test_named_device_ignores_others(raw_scanner, sources):
    src = sources(f"igtl://127.0.0.1:{raw_scanner.port}/Image_Reference", timeout_s=5)
    conn = raw_scanner.accept()
    conn.sendall(image_bytes(10, "Other") + image_bytes(20, "Image_Reference") + image_bytes(30, "Other"))
    assert wait_until(lambda: src.counters.received == 1 and src.counters.ignored == 2, 5)
    assert int(take(src, 1)[0].image[0, 0]) == 20


def test_first_image_device_is_used_by_default(raw_scanner, sources):
    src = sources(f"igtl://127.0.0.1:{raw_scanner.port}", timeout_s=5)
    conn = raw_scanner.accept()
    conn.sendall(proto.build_message("STRING", "Text", b"\x00\x03\x00\x02hi")
                 + image_bytes(10, "First") + image_bytes(20, "Second") + image_bytes(30, "First"))
    assert wait_until(lambda: src.counters.received == 2 and src.counters.ignored == 2, 5)
    assert src.device == "First"
    assert int(take(src, 1)[0].image[0, 0]) == 30


def test_version2_header_with_metadata_is_received(raw_scanner, sources):
    src = sources(f"igtl://127.0.0.1:{raw_scanner.port}", timeout_s=5)
    conn = raw_scanner.accept()
    msg = pyigtl.ImageMessage(np.full((1, H, W), 70, np.uint8), timestamp=time.time(), device_name="Image")
    msg.header_version = 2
    msg.metadata = {"Probe": "X5-1"}
    conn.sendall(msg.pack() + proto.build_message(
        "IMAGE", "Image", proto.image_content(np.full((H, W), 80, np.uint8)), version=3, timestamp=time.time()))
    assert wait_until(lambda: src.counters.received == 2, 5)
    assert int(take(src, 1)[0].image[0, 0]) == 80 and src.counters.corrupt == 0


def test_newest_frame_only_counts_the_dropped(raw_scanner, sources):
    src = sources(f"igtl://127.0.0.1:{raw_scanner.port}", timeout_s=5)
    conn = raw_scanner.accept()
    conn.sendall(b"".join(image_bytes(k + 1) for k in range(30)))
    assert wait_until(lambda: src.counters.received == 30, 5)
    frame = take(src, 1)[0]
    assert frame.index == 29 and int(frame.image[0, 0]) == 30
    assert src.counters.dropped == 29 and src.counters.delivered == 1


@pytest.mark.parametrize("dtype, value, expected", [(np.uint16, 4000, 0), (np.float32, 0.5, 128)])
def test_other_pixel_types_arrive_as_uint8(raw_scanner, sources, dtype, value, expected):
    src = sources(f"igtl://127.0.0.1:{raw_scanner.port}", timeout_s=5)
    conn = raw_scanner.accept()
    conn.sendall(image_bytes(value, dtype=dtype))
    frame = take(src, 1)[0]
    assert frame.image.dtype == np.uint8 and np.all(frame.image == expected)   # constant frame: window 0


def test_timeout_ends_iteration_without_a_scanner(sources):
    src = sources(f"igtl://127.0.0.1:{free_port()}", timeout_s=0.5)
    assert list(src) == []
    assert src.state in (CONNECTING, "disconnected")


def test_close_ends_a_blocked_consumer(sources):
    src = sources(f"igtl://127.0.0.1:{free_port()}")
    result = []
    t = threading.Thread(target=lambda: result.append(list(src)))
    t.start()
    time.sleep(0.2)
    src.close()
    t.join(timeout=5)
    assert not t.is_alive() and result == [[]]


# ----------------------------------------------------------------------------- outages

def test_resumes_after_the_scanner_is_killed_and_restarted(child_scanner, sources):
    child_scanner.start()
    src = sources(f"igtl://127.0.0.1:{child_scanner.port}", timeout_s=20)
    assert len(take(src, 5)) == 5
    child_scanner.kill()
    assert wait_until(lambda: src.state != STREAMING, 5)
    time.sleep(1.0)                       # the scanner stays away a while (several reconnect attempts)
    received_before = src.counters.received
    back_at = child_scanner.start()
    # A frame still waiting from before the kill (a busy machine may not have taken it) does not count.
    frame = next(f for f in src if src.counters.received > received_before)
    resumed_after = time.monotonic() - back_at
    print(f"analysis resumed {resumed_after:.2f} s after the scanner came back")
    assert src.counters.received > received_before and frame.timestamp is not None
    assert src.counters.reconnects == 1 and src.state == STREAMING
    assert resumed_after < 2.0 + 3.0     # the issue asks for 2 s; slack for a loaded CI machine


def test_frozen_scanner_is_reported_and_recovers(child_scanner, sources):
    child_scanner.start()
    src = sources(f"igtl://127.0.0.1:{child_scanner.port}", timeout_s=20, freeze_after_s=0.5)
    assert len(take(src, 3)) == 3
    child_scanner.signal(signal.SIGSTOP)
    try:
        assert wait_until(lambda: src.state == FROZEN, 5)
    finally:
        child_scanner.signal(signal.SIGCONT)
    assert src.counters.frozen_events >= 1
    assert wait_until(lambda: src.state == STREAMING, 5)
    assert src.counters.reconnects == 0


def test_status_messages_mean_frozen_as_in_fast(raw_scanner, sources):
    src = sources(f"igtl://127.0.0.1:{raw_scanner.port}", timeout_s=5, freeze_after_s=60)
    conn = raw_scanner.accept()
    conn.sendall(image_bytes(10))
    assert wait_until(lambda: src.state == STREAMING, 5)
    status = proto.build_message("STATUS", "Image", proto.status_content(1, 0, "OK", "frozen"))
    conn.sendall(status * 3)
    assert wait_until(lambda: src.counters.ignored == 3, 5) and src.state == STREAMING
    conn.sendall(status)
    assert wait_until(lambda: src.state == FROZEN, 5) and src.counters.frozen_events == 1
    conn.sendall(image_bytes(20))
    assert wait_until(lambda: src.state == STREAMING, 5)


def test_graceful_close_then_reconnect(raw_scanner, sources):
    src = sources(f"igtl://127.0.0.1:{raw_scanner.port}", timeout_s=5)
    first = raw_scanner.accept()
    first.sendall(image_bytes(10) + image_bytes(20)[:500])   # closes in the middle of a message
    assert wait_until(lambda: src.counters.received == 1, 5)
    first.close()
    second = raw_scanner.accept()
    second.sendall(image_bytes(30))
    assert wait_until(lambda: src.counters.received == 2, 5)
    assert src.counters.reconnects == 1 and src.counters.corrupt == 1


def test_stalled_message_is_dropped(raw_scanner, sources):
    src = sources(f"igtl://127.0.0.1:{raw_scanner.port}", timeout_s=5, stall_s=0.3)
    conn = raw_scanner.accept()
    conn.sendall(image_bytes(10)[:300])
    assert wait_until(lambda: src.counters.corrupt == 1, 5)
    conn.sendall(image_bytes(20))
    assert wait_until(lambda: src.counters.received == 1, 5)


# ----------------------------------------------------------------------------- malformed streams

def _flip_last_byte(raw: bytes) -> bytes:
    return raw[:-1] + bytes([raw[-1] ^ 0xFF])


def _bad_crc_field(raw: bytes) -> bytes:
    return raw[:50] + bytes(8) + raw[58:]


def _garbage(n: int, seed: int = 7) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def _float64_image() -> bytes:
    return image_bytes(1.0, dtype=np.float64)


def _int32_image() -> bytes:
    return image_bytes(5, dtype=np.int32)


MALFORMED = {
    # name: (bytes between two good frames, counters expected: corrupt, rejected, ignored)
    "truncated body": (lambda: image_bytes(99)[:58 + 1000], (1, 0, 0)),
    "bad CRC in body": (lambda: _flip_last_byte(image_bytes(99)), (1, 0, 0)),
    "bad CRC field": (lambda: _bad_crc_field(image_bytes(99)), (1, 0, 0)),
    "unknown message type": (lambda: proto.build_message("BOGUS", "Image", b"12345678"), (0, 0, 1)),
    "IMAGE type with a STRING body": (
        lambda: proto.build_message("IMAGE", "Image", b"\x00\x03\x00\x05hello"), (0, 1, 0)),
    "huge BODY_SIZE": (lambda: proto.build_message("IMAGE", "Image", b"x" * 64, body_size=2**62), (1, 0, 0)),
    "BODY_SIZE just over the cap": (
        lambda: proto.build_message("IMAGE", "Image", b"x" * 64, body_size=proto.DEFAULT_MAX_BODY_BYTES + 1),
        (1, 0, 0)),
    "zero-size image": (lambda: proto.build_message(
        "IMAGE", "Image", proto.image_content(np.zeros((4, 4), np.uint8), size=(0, 4, 1))), (0, 1, 0)),
    "unsupported scalar type float64": (_float64_image, (0, 1, 0)),
    "unsupported scalar type int32": (_int32_image, (0, 1, 0)),
    "garbage bytes": (lambda: _garbage(20000), (1, 0, 0)),
    "version 0 header": (lambda: b"\x00\x00" + image_bytes(99)[2:], (1, 0, 0)),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_stream_is_counted_and_resynchronised(raw_scanner, sources, caplog, case):
    make_bad, (corrupt, rejected, ignored) = MALFORMED[case]
    caplog.set_level(logging.INFO, logger="echoquality.sources.igtl.receiver")
    src = sources(f"igtl://127.0.0.1:{raw_scanner.port}", timeout_s=5)
    conn = raw_scanner.accept()
    conn.sendall(image_bytes(10))
    assert wait_until(lambda: src.counters.received == 1, 5)
    assert int(take(src, 1)[0].image[0, 0]) == 10
    conn.sendall(make_bad() + image_bytes(20))
    assert wait_until(lambda: src.counters.received == 2, 5), src.counters
    assert int(take(src, 1)[0].image[0, 0]) == 20      # the frame right after the bad part
    conn.sendall(image_bytes(30))
    assert wait_until(lambda: src.counters.received == 3, 5), src.counters
    assert int(take(src, 1)[0].image[0, 0]) == 30
    c = src.counters
    assert (c.corrupt, c.rejected, c.ignored) == (corrupt, rejected, ignored)
    assert c.reconnects == 0 and c.dropped == 0 and src.state == STREAMING
    if rejected:
        assert "Rejected IMAGE" in caplog.text
    if corrupt:
        assert "Corrupt data" in caplog.text


def test_unsupported_type_log_names_the_type(raw_scanner, sources, caplog):
    src = sources(f"igtl://127.0.0.1:{raw_scanner.port}", timeout_s=5)
    conn = raw_scanner.accept()
    conn.sendall(_float64_image() + image_bytes(10))
    assert wait_until(lambda: src.counters.received == 1, 5)
    assert "float64 is not supported" in caplog.text


def test_garbage_before_the_first_message(raw_scanner, sources):
    src = sources(f"igtl://127.0.0.1:{raw_scanner.port}", timeout_s=5)
    conn = raw_scanner.accept()
    conn.sendall(_garbage(3000, seed=3) + image_bytes(10))
    assert wait_until(lambda: src.counters.received == 1, 5)
    assert src.counters.corrupt == 1


def test_huge_body_size_is_not_allocated(raw_scanner, sources):
    src = sources(f"igtl://127.0.0.1:{raw_scanner.port}", timeout_s=5)
    conn = raw_scanner.accept()
    tracemalloc.start()
    try:
        conn.sendall(proto.build_message("IMAGE", "Image", b"x" * 64, body_size=2**40) + image_bytes(10))
        assert wait_until(lambda: src.counters.received == 1, 5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20
    assert src.counters.corrupt == 1


def test_a_colour_screen_with_a_velocity_scale_arrives_marked_colour_doppler(raw_scanner, sources):
    """RGB frames over a real socket: the one with a colour-flow scale (no flow) is marked, the grey one is not."""
    grey = np.zeros((240, 320, 3), np.uint8)
    grey[40:200, 60:260] = 90
    scaled = velocity_scale(grey.copy(), 290, 40, 80)

    def rgb_bytes(pixels: np.ndarray) -> bytes:
        return pyigtl.ImageMessage(pixels[None], ijk_to_world_matrix=np.diag([0.2, 0.2, 1.0, 1.0]),
                                   timestamp=time.time(), device_name="Image").pack()

    src = sources(f"igtl://127.0.0.1:{raw_scanner.port}", timeout_s=5)
    conn = raw_scanner.accept()
    frames = []
    for pixels in (grey, scaled):     # one at a time: the receiver keeps only the newest frame
        conn.sendall(rgb_bytes(pixels))
        frames += take(src, 1)
    assert [f.declared_mode for f in frames] == [None, "colour_doppler"]
    assert all(f.colour is not None for f in frames)

"""A crafted OpenIGTLink stream: headers that each claim a huge body with a bad CRC cost bounded CRC
work per byte received, and the frames after them still arrive (on loopback, through the receiver)."""
from __future__ import annotations

import socket
import threading

import numpy as np

from echoquality.sources.igtl import protocol as proto
from echoquality.sources.igtl.receiver import IGTLSource
from tests.helpers import wait_until
from tests.sources.test_igtl_protocol import pyigtl_image

CLAIM = 8 << 20       # each lying header claims an 8 MB body


def hostile_stretch(n_headers: int = 200) -> bytes:
    """Headers claiming CLAIM-byte IMAGE bodies with a wrong CRC, each followed by 1000 bytes of filler,
    then enough filler to complete every claimed body."""
    lie = proto.build_message("IMAGE", "Image", b"", crc=12345, body_size=CLAIM)
    return (lie + b"\0" * 1000) * n_headers + b"\0" * CLAIM


def good_frames(n: int, start: int = 0) -> list[bytes]:
    return [pyigtl_image(np.full((6, 8), 10 * (k + 1), np.uint8), timestamp=1_700_000_000 + k)
            for k in range(start, start + n)]


def test_crc_work_is_bounded_per_byte_received():
    stream = hostile_stretch() + b"".join(good_frames(3))
    reader = proto.MessageReader()
    items = [item for i in range(0, len(stream), 1 << 18) for item in reader.feed(stream[i:i + (1 << 18)])]
    assert reader.crc_bytes <= proto.CRC_WORK_PER_BYTE * reader.bytes_fed
    values = [int(proto.parse_image(proto.split_body(m.header, m.body).content).pixels[0, 0, 0])
              for m in items if isinstance(m, proto.Message)]
    assert values == [10, 20, 30]


def test_frames_after_a_hostile_stretch_arrive_and_close_returns():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    done = threading.Event()

    def scanner() -> None:
        conn, _ = server.accept()
        with conn:
            conn.sendall(hostile_stretch())
            k = 0
            while not done.is_set():        # a scanner that goes on streaming
                try:
                    conn.sendall(b"".join(good_frames(1, k % 20)))
                except OSError:
                    return
                k += 1
                done.wait(0.02)

    thread = threading.Thread(target=scanner, daemon=True)
    thread.start()
    source = IGTLSource(f"igtl://127.0.0.1:{port}", timeout_s=60)
    frames = []
    reader = threading.Thread(target=lambda: frames.extend([next(iter(source))]), daemon=True)
    reader.start()
    try:
        assert wait_until(lambda: frames, 60), "no frame after the hostile stretch"
        assert frames[0].image.shape == (6, 8)
    finally:
        done.set()
        closer = threading.Thread(target=source.close, daemon=True)
        closer.start()
        closer.join(30)
        server.close()
    assert not closer.is_alive(), "close() did not return"

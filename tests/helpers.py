"""Paths to the bundled and shared real data, and helpers for tests with sockets and child processes."""
from __future__ import annotations

import select
import socket
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO_LOOP = ROOT / "data" / "samples" / "e95_a4c.mp4"
SHARED_DATA = ROOT.parent / "shared" / "data"
CAMUS = SHARED_DATA / "camus_subset"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, timeout: float, step: float = 0.02) -> bool:
    """Poll condition() until it holds or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def wait_for_output(proc, word: str, timeout: float, what: str) -> float:
    """Read a child's stdout until a line contains `word`; the monotonic time it did."""
    deadline, seen = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        if select.select([proc.stdout], [], [], 0.2)[0]:
            line = proc.stdout.readline()
            seen.append(line)
            if word in line:
                return time.monotonic()
            if not line:
                break
    raise AssertionError(f"{what} did not start:\n" + "".join(seen))

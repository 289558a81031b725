"""A controlled competing load for the speed benchmarks: N child processes that each keep one core busy.

A shared 2-core machine is rarely idle; `--busy 1` in `bench_igtl_latency` and `bench_gui` measures the chain and
the GUI while another program takes a whole core, so "under load" is a condition anyone can rerun, not the noise
of the moment. Alone: `.venv/bin/python benchmarks/competing_load.py N` (until Ctrl-C).
"""
from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from typing import Iterator

BUSY = "while True:\n    pass\n"


@contextlib.contextmanager
def competing_load(processes: int) -> Iterator[list[subprocess.Popen]]:
    """`processes` busy child processes for the duration of the block (none for 0); always ended on the way out."""
    children = [subprocess.Popen([sys.executable, "-c", BUSY], stdin=subprocess.DEVNULL) for _ in range(processes)]
    try:
        yield children
    finally:
        for child in children:
            child.kill()
        for child in children:
            child.wait()


def describe(processes: int) -> str:
    """The summary line the benchmarks print."""
    return f"competing load: {processes} busy process{'es' if processes != 1 else ''} (benchmarks/competing_load.py)"


if __name__ == "__main__":
    with competing_load(int(sys.argv[1]) if len(sys.argv) > 1 else 1):
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass

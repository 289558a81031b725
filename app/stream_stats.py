"""Display statistics of a stream: frames shown per second, latency and frames never shown."""
from __future__ import annotations

from collections import deque

import numpy as np

RATE_WINDOW_S = 2.0
LATENCY_SAMPLES = 120


class StreamStats:
    """Updated once per shown frame; `dropped` counts frames that entered or reached us but were never shown."""

    def __init__(self):
        self.reset()

    def reset(self, first_index: int | None = None) -> None:
        self.shown = 0
        self.dropped = 0
        self._last_index = None if first_index is None else first_index - 1
        self._times: deque[float] = deque()
        self._latencies: deque[float] = deque(maxlen=LATENCY_SAMPLES)

    def add(self, now: float, index: int, latency_s: float | None) -> None:
        """A frame with this source index was shown at `now` (seconds, monotonic)."""
        if self._last_index is not None and index > self._last_index + 1:
            self.dropped += index - self._last_index - 1
        self._last_index = index if self._last_index is None else max(self._last_index, index)
        self.shown += 1
        self._times.append(now)
        while self._times and self._times[0] < now - RATE_WINDOW_S:
            self._times.popleft()
        if latency_s is not None and np.isfinite(latency_s):
            self._latencies.append(latency_s)

    def fps(self, now: float) -> float:
        """Frames shown per second over the last seconds (0 when none)."""
        times = [t for t in self._times if t >= now - RATE_WINDOW_S]
        if len(times) < 2:
            return 0.0
        span = max(now - times[0], times[-1] - times[0])
        return (len(times) - 1) / span if span > 0 else 0.0

    def latency_ms(self) -> tuple[float, float]:
        """(median, p95) latency in milliseconds over the last frames (NaN when none)."""
        if not self._latencies:
            return float("nan"), float("nan")
        values = np.array(self._latencies) * 1e3
        return float(np.median(values)), float(np.percentile(values, 95))

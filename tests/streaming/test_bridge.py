"""The FAST glue: frames keep their identity through real FAST process objects, streams end cleanly."""
from __future__ import annotations

import threading
import time

import fast
import numpy as np

from echoquality.streaming.bridge import FrameSource, Sink, Stage
from echoquality.streaming.codec import fast_to_frame, frame_error, frame_tag, is_end_marker, to_fast, \
    to_numpy
from echoquality.sources.playback import SourceError
from echoquality.core.records import Frame


def make_frames(n: int, fail_after: int | None = None):
    for i in range(n):
        if fail_after is not None and i == fail_after:
            raise SourceError("loop.mp4: frame 3 is corrupt")
        yield Frame(np.full((12, 16), i, np.uint8), i, i / 50, (0.3, 0.2), "loop.mp4", i % 2 == 0, 1000.0 + i)


class Invert(Stage):
    def process(self, image):
        if to_numpy(image)[0, 0] == 2:
            raise ValueError("cannot invert frame 2")
        return (to_fast(255 - to_numpy(image), image),)


def run(frames):
    received = []
    streamer = FrameSource.create(frames)
    invert = Invert.create().connect(streamer)
    sink = Sink.create(lambda image, original: received.append((image, original)), 2) \
        .connect(0, invert, 0).connect(1, streamer, 0)
    for image in fast.DataStream(sink):
        if is_end_marker(image):
            break
    return streamer, received


def test_frames_pass_through_stages_with_their_identity():
    streamer, received = run(make_frames(5))
    assert streamer.error is None and streamer.sent == 5
    results = [(img, orig) for img, orig in received if not is_end_marker(img)]
    assert [frame_tag(img).index for img, _ in results] == [0, 1, 2, 3, 4]
    assert to_numpy(results[1][0])[0, 0] == 254
    frame = fast_to_frame(results[3][1])
    assert frame.index == 3 and frame.time_s == 3 / 50 and frame.spacing == (0.3, 0.2)
    assert frame.source == "loop.mp4" and frame.spacing_known is False and frame.timestamp == 1003.0
    # A stage failing on one frame sends an error marker for that frame and goes on.
    assert frame_error(results[2][0]) == "Invert: cannot invert frame 2"
    assert frame_error(results[4][0]) is None


def test_source_error_mid_stream_keeps_earlier_frames():
    streamer, received = run(make_frames(10, fail_after=3))
    assert streamer.error == "loop.mp4: frame 3 is corrupt"
    assert [frame_tag(img).index for img, _ in received if not is_end_marker(img)] == [0, 1, 2]
    assert is_end_marker(received[-1][0])


def test_a_closed_handoff_releases_both_sides():
    import threading

    from echoquality.streaming.bridge import Handoff

    handoff = Handoff(("frame",), depth=1)
    handoff.put(("first",))
    blocked_put = threading.Thread(target=handoff.put, args=(("second",),))
    blocked_put.start()                         # the handoff is full: this put waits
    assert handoff.get() == ("first",)
    blocked_put.join(timeout=5)
    assert handoff.get() == ("second",)
    waiting: list = []
    getter = threading.Thread(target=lambda: waiting.append(handoff.get()))
    getter.start()                              # nothing to take: this get waits until closed
    handoff.close()
    getter.join(timeout=5)
    assert not getter.is_alive() and waiting == [None]


def test_closing_the_source_ends_a_pull_waiting_for_a_frame_that_never_comes():
    never = threading.Event()

    def silent_scanner():
        never.wait()          # a live source with nothing to send
        yield from ()

    source = FrameSource.create(silent_scanner())
    pulled = []
    puller = threading.Thread(target=lambda: pulled.extend(fast.DataStream(source)), daemon=True)
    puller.start()
    puller.join(0.5)
    assert puller.is_alive()            # waiting for a frame
    source.close()
    puller.join(10)
    assert not puller.is_alive() and len(pulled) == 1 and is_end_marker(pulled[0]) and source.sent == 0
    never.set()


def test_the_source_reads_no_further_ahead_than_its_frames_in_flight():
    taken = []

    def counted():
        for frame in make_frames(20):
            taken.append(frame.index)
            yield frame

    source = FrameSource.create(counted(), 2)
    stream = iter(fast.DataStream(source))
    first = next(stream)
    time.sleep(0.5)                     # the reader would run ahead here if it could
    assert frame_tag(first).index == 0 and len(taken) <= 2
    source.frame_done()
    assert frame_tag(next(stream)).index == 1
    time.sleep(0.5)
    assert len(taken) <= 3
    source.close()

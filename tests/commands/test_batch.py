"""`batch`: a mixed real archive on a real local Dask cluster (2 worker processes started here), a worker
killed mid-run, a driver killed mid-run and resumed, and the tables opened in pandas."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from echoquality.batch.engine import connect, run_batch
from echoquality.batch.store import FRAME_COLUMNS, RECORDING_COLUMNS
from echoquality.commands.analyze import AnalysisSettings
from tests.helpers import DEMO_LOOP, ROOT, SHARED_DATA, wait_until

NON_APICAL = SHARED_DATA / "non_apical"
FRAMES = 12
SETTINGS = AnalysisSettings(max_frames=FRAMES)


def demo_frames(start: int, n: int) -> np.ndarray:
    """Frames start..start+n-1 of the bundled real A4C loop, grayscale (n, H, W) uint8."""
    video = cv2.VideoCapture(str(DEMO_LOOP))
    video.set(cv2.CAP_PROP_POS_FRAMES, start)
    frames = []
    for _ in range(n):
        ok, frame = video.read()
        assert ok
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    return np.stack(frames)


def write_mp4(path: Path, frames: np.ndarray, fps: float = 60.0) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, frames.shape[2:0:-1])
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()


def build_archive(root: Path, loops: int = 3) -> dict[str, str]:
    """A mixed archive of real files; {path: what it is}."""
    if not NON_APICAL.is_dir():
        pytest.skip("../shared/data/non_apical is not present")
    kinds = {}
    (root / "loops" / "nested" / "deeper").mkdir(parents=True)
    (root / "other").mkdir()
    for i in range(loops):   # distinct stretches of the real loop: distinct content
        frames = demo_frames(i * FRAMES, FRAMES)
        if i == 0:
            path = root / "loops" / "a4c_0.mp4"
            write_mp4(path, frames)
        else:
            path = root / "loops" / ("nested/deeper" if i % 2 else "") / f"a4c_{i}.npy"
            np.save(path, frames)
        kinds[str(path)] = "loop"
    shutil.copy(NON_APICAL / "1E5H70ZT.dcm", root / "other" / "doppler.dcm")
    shutil.copy(NON_APICAL / "BOF8PYTI.dcm", root / "other" / "IM0001")   # DICOM without extension
    kinds[str(root / "other" / "doppler.dcm")] = kinds[str(root / "other" / "IM0001")] = "non-apical"
    (root / "other" / "truncated.dcm").write_bytes((NON_APICAL / "1E5H7114.dcm").read_bytes()[:6000])
    (root / "loops" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    kinds[str(root / "other" / "truncated.dcm")] = kinds[str(root / "loops" / "broken.mp4")] = "corrupt"
    (root / "loops" / "notes.txt").write_text("sonographer's notes, not an image\n")
    kinds[str(root / "loops" / "notes.txt")] = "text"
    return kinds


@pytest.fixture(scope="module")
def client():
    """A real local cluster: 2 single-threaded worker processes, as `batch` starts one."""
    environ = dict(os.environ)   # Dask's nannies set OMP_NUM_THREADS=1 and more here: not for the later tests
    client = connect(workers=2)
    yield client
    cluster = client.cluster
    client.close()
    cluster.close()
    os.environ.clear()
    os.environ.update(environ)


def frames_table(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "frames")


def check_outputs(out: Path, kinds: dict[str, str]) -> pd.DataFrame:
    """The tables open in pandas, hold one row per input file, and agree with each other."""
    table = pd.read_parquet(out / "recordings.parquet")
    csv = pd.read_csv(out / "recordings.csv")
    assert list(table.columns) == list(RECORDING_COLUMNS) == list(csv.columns)
    assert sorted(table.source) == sorted(kinds) == sorted(csv.source)
    rows = table.set_index("source")
    for source, kind in kinds.items():
        row = rows.loc[source]
        if kind == "loop":
            assert row.status == "done" and row.frames == FRAMES and row.frames_scored > 0, row
            assert 1 <= row.global_median <= 5 and row.width == 634 and row.height == 588
        elif kind == "non-apical":
            assert row.status == "done" and row.frames == 1 and row.width == 1024, row
            assert row.frames_scored == 0 and row.gate_reasons    # the gate stops it, saying why
        elif kind == "corrupt":
            assert row.status == "failed" and source in row.error and row.frames == 0, row
        else:
            assert row.status == "skipped" and "not an image" in row.error, row
    frames = frames_table(out)
    assert set(FRAME_COLUMNS) <= set(frames.columns)
    assert not frames.duplicated(["key", "frame"]).any()
    done = table[table.status == "done"]
    counts = frames.groupby("key").size()
    assert {k: counts[k] for k in done.key} == dict(zip(done.key, done.frames))
    return table



def worker_killer(client, killed: list[int], after_first_done: bool):
    """A progress callback that SIGKILLs one worker while it runs a task (once; its pid goes to `killed`)."""
    def kill_a_busy_worker(progress) -> None:
        if killed or (after_first_done and progress.done == 0):
            return
        pids = client.run(os.getpid)
        busy = [address for address, keys in client.processing().items() if keys and address in pids]
        if busy:
            os.kill(pids[busy[0]], signal.SIGKILL)
            killed.append(pids[busy[0]])
    return kill_a_busy_worker

def test_mixed_archive_then_rerun_skips_everything(tmp_path, client):
    kinds = build_archive(tmp_path / "archive")
    out = tmp_path / "out"
    report = run_batch([str(tmp_path / "archive")], out, SETTINGS, client)
    assert not report.interrupted and report.skipped == 1
    assert report.progress.analysed == report.progress.total == 7
    table = check_outputs(out, kinds)
    opened = client.run(lambda: __import__("echoquality.inference.registry", fromlist=["_shared"])._shared
                        .cache_info().misses)
    assert all(n <= 3 for n in opened.values()), opened    # models opened once per worker, not per file
    reason = table.set_index("source").loc[str(tmp_path / "archive" / "other" / "truncated.dcm"), "error"]
    assert "corrupt" in reason.lower()

    written = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.parent.name != "out"}
    again = run_batch([str(tmp_path / "archive")], out, SETTINGS, client)
    assert again.progress.analysed == 0 and again.progress.reused == 7
    assert {p: p.stat().st_mtime_ns for p in written} == written     # no marker or part rewritten
    check_outputs(out, kinds)

    copy = tmp_path / "archive" / "loops" / "copy_of_a4c_2.npy"    # same content, new name: reused by content hash
    shutil.copy(tmp_path / "archive" / "loops" / "a4c_2.npy", copy)
    third = run_batch([str(tmp_path / "archive")], out, SETTINGS, client)
    row = next(r for r in third.rows if r["source"] == str(copy))
    assert row["reused"] and row["status"] == "done" and third.progress.reused == 8


def test_worker_killed_mid_run_loses_nothing(tmp_path, client):
    kinds = build_archive(tmp_path / "archive", loops=5)
    out = tmp_path / "out"
    killed: list[int] = []
    kill_a_busy_worker = worker_killer(client, killed, after_first_done=True)

    report = run_batch([str(tmp_path / "archive")], out, SETTINGS, client, on_progress=kill_a_busy_worker)
    assert killed, "no worker was busy to be killed"
    assert not report.interrupted and report.progress.done == report.progress.total == 9
    check_outputs(out, kinds)
    assert wait_until(lambda: len(client.scheduler_info()["workers"]) == 2, timeout=120)   # the nanny restarted it
    assert killed[0] not in client.run(os.getpid).values()


def test_driver_killed_then_resumed_does_nothing_twice(tmp_path, client):
    kinds = build_archive(tmp_path / "archive", loops=5)
    out = tmp_path / "out"
    command = [sys.executable, str(ROOT / "launch.py"), "batch", str(tmp_path / "archive"), "--out", str(out),
               "--cluster", client.cluster.scheduler_address, "--max-frames", str(FRAMES)]
    driver = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        first = wait_until(lambda: any((out / "done").glob("*/*.json")) or driver.poll() is not None, timeout=300)
        driver.kill()
    finally:
        driver.wait(timeout=30)
    assert first
    # tasks already running when the driver died finish on their own: wait for the workers to be idle
    assert wait_until(lambda: not any(client.processing().values()), timeout=120)
    before = {p.name: p.stat().st_mtime_ns for p in (out / "done").glob("*/*.json")}
    assert before

    report = run_batch([str(tmp_path / "archive")], out, SETTINGS, client)
    assert report.progress.done == report.progress.total == 9
    analysed_now = {r["key"] for r in report.rows if r.get("key") and not r["reused"]}
    assert not analysed_now & {name[:-5] for name in before}              # nothing done twice
    assert {p.name: p.stat().st_mtime_ns for p in (out / "done").glob("*/*.json") if p.name in before} == before
    check_outputs(out, kinds)


def test_a_recording_that_kills_its_workers_is_failed_then_retried(tmp_path, client):
    kinds = build_archive(tmp_path / "archive", loops=4)
    out = tmp_path / "out"
    scheduler = client.cluster.scheduler
    killed: list[int] = []
    kill_a_busy_worker = worker_killer(client, killed, after_first_done=False)

    scheduler.allowed_failures = 0      # the first dead worker condemns its recording
    try:
        report = run_batch([str(tmp_path / "archive")], out, SETTINGS, client, on_progress=kill_a_busy_worker)
    finally:
        scheduler.allowed_failures = 3
    assert killed
    died = [r for r in report.rows if "a worker died while analysing it" in (r.get("error") or "")]
    assert died and all(r["status"] == "failed" and not r.get("key") for r in died)
    assert sorted(r["source"] for r in report.rows) == sorted(kinds)
    assert wait_until(lambda: len(client.scheduler_info()["workers"]) == 2, timeout=120)

    again = run_batch([str(tmp_path / "archive")], out, SETTINGS, client)   # not marked: tried again
    assert again.progress.done - again.progress.reused <= len(died)
    check_outputs(out, kinds)

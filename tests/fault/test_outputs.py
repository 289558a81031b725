"""Outputs are never lost or wrong with exit 0: checked videos, frame-size changes, colliding names,
validated flags, and a full disk that stops the run with one line and whole rows."""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from echoquality.commands import cli
from echoquality.commands.analyze import AnalysisSettings, analyze
from echoquality.outputs.results_csv import CSV_COLUMNS, OutputError, RowFile
from echoquality.outputs.video import MAX_VIDEO_SIDE, VideoError, VideoWriter
from echoquality.outputs.recording import write_metaimage
from tests.fault.conftest import fill, noise_loop


def run(inputs, out: Path, models, capsys, **settings) -> tuple[int, str, str]:
    seg, quality = models
    status = analyze([str(i) for i in inputs], out, AnalysisSettings(str(quality), "a4c", str(seg), **settings))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def video_frames(path: Path) -> tuple[int, int, int]:
    video = cv2.VideoCapture(str(path))
    n = 0
    while video.read()[0]:
        n += 1
    return n, int(video.get(cv2.CAP_PROP_FRAME_WIDTH)), int(video.get(cv2.CAP_PROP_FRAME_HEIGHT))


# --- flags: one line, exit 2, before anything runs ---------------------------------------------------------

@pytest.mark.parametrize("flags, word", [
    (["--max-frames", "-1"], "--max-frames"), (["--max-frames", "0"], "--max-frames"),
    (["--fps", "inf"], "--fps"), (["--fps", "nan"], "--fps"), (["--fps", "1e9"], "--fps"), (["--fps", "0"], "--fps"),
    (["--timeout", "nan"], "--timeout"), (["--timeout", "-3"], "--timeout"),
    (["--spacing", "nan", "nan"], "--spacing"), (["--spacing", "0.3", "-1"], "--spacing"),
    (["--spacing", "1e-300", "1e-300"], "--spacing"), (["--spacing", "0.3", "1e9"], "--spacing"),
    (["--out", ""], "--out"), (["--out", "  "], "--out"),
])
def test_bad_flag_values_are_one_line(tmp_path, capsys, flags, word):
    args = ["analyze", str(tmp_path / "x.npy")] + (["--out", str(tmp_path / "o")] if "--out" not in flags else []) + flags
    with pytest.raises(SystemExit) as stopped:
        cli.main(args)
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and "Traceback" not in err and word in err.splitlines()[-1]
    assert not (tmp_path / "o").exists()


def test_bogus_log_level_is_one_line(capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["--log-level", "LOUD", "analyze", "x.npy", "--out", "o"])
    assert stopped.value.code == 2 and "--log-level" in capsys.readouterr().err.splitlines()[-1]


# --- videos ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fps", [float("nan"), float("inf"), 1e9, -5.0, 0.0])
def test_video_writer_takes_any_frame_rate(tmp_path, fps):
    writer = VideoWriter(tmp_path / "v.mp4", fps)
    for k in range(3):
        writer.write(np.full((32, 48, 3), 40 * k, np.uint8))
    writer.close()
    assert writer.fps == 30.0 and video_frames(tmp_path / "v.mp4") == (3, 48, 32)


def test_video_writer_scales_frames_too_wide_for_the_encoder(tmp_path):
    writer = VideoWriter(tmp_path / "wide.mp4", 30)
    for _ in range(2):
        writer.write(np.zeros((8, 2 * MAX_VIDEO_SIDE, 3), np.uint8))
    writer.close()
    n, w, h = video_frames(tmp_path / "wide.mp4")
    assert n == 2 and w <= MAX_VIDEO_SIDE and w == writer.size[0]


def test_video_writer_on_a_folder_says_so(tmp_path):
    (tmp_path / "v.mp4").mkdir()
    with pytest.raises(VideoError, match="folder"):
        VideoWriter(tmp_path / "v.mp4", 30).write(np.zeros((8, 8, 3), np.uint8))


def test_video_not_written_is_not_listed_and_fails_the_run(tmp_path, tiny_models, capsys):
    out = tmp_path / "out"
    (out / "loop_split.mp4").mkdir(parents=True)     # the target path is a folder
    status, stdout, stderr = run([noise_loop(tmp_path / "loop.npy", 3)], out, tiny_models, capsys, save_video=True)
    assert status == 1 and "Traceback" not in stderr
    assert "video:" not in stdout and "video not written" in stderr and "loop_split.mp4" in stderr
    assert len(rows(out / "results.csv")) == 3          # the results are still written


def test_frame_size_change_keeps_every_frame_in_the_video(tmp_path, tiny_models, capsys):
    """A scanner depth change: frames of another size are scaled into the first size, not dropped."""
    frames = tmp_path / "frames"
    frames.mkdir()
    rng = np.random.default_rng(1)
    for k, shape in enumerate([(64, 64), (64, 64), (96, 80), (96, 80), (48, 72)]):
        write_metaimage(frames / f"f_{k}.mhd", rng.integers(0, 256, shape, dtype=np.uint8), (0.5, 0.5))
    out = tmp_path / "out"
    status, stdout, stderr = run([frames / "f_#.mhd"], out, tiny_models, capsys, save_video=True)
    assert status == 0, stderr
    assert len(rows(out / "results.csv")) == 5
    assert video_frames(out / "f__split.mp4")[0] == 5
    assert "3 frames of another size" in stderr


def test_inputs_with_the_same_stem_keep_their_own_outputs(tmp_path, tiny_models, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = noise_loop(tmp_path / "a" / "loop.npy", 2, seed=1)
    second = noise_loop(tmp_path / "b" / "loop.npy", 3, seed=2)
    out = tmp_path / "out"
    status, stdout, stderr = run([first, second], out, tiny_models, capsys, save_video=True, save_masks=True)
    assert status == 0, stderr
    assert video_frames(out / "loop_split.mp4")[0] == 2 and video_frames(out / "loop_2_split.mp4")[0] == 3
    assert len(list((out / "masks").glob("loop_0*.png"))) == 2 and len(list((out / "masks").glob("loop_2_*.png"))) == 3
    assert (out / "loop_summary.json").is_file() and (out / "loop_2_summary.json").is_file()
    assert "loop_2_split.mp4" in stdout and "loop_2_*" in stderr


def test_a_crash_on_one_input_costs_neither_the_others_nor_the_summary(tmp_path, tiny_models, capsys):
    """An unexpected error inside one input's analysis is one line; the next input and the summary follow."""
    empty = tmp_path / "empty.npy"
    np.save(empty, np.zeros((2, 16, 0), np.uint8))
    good = noise_loop(tmp_path / "good.npy", 2)
    status, stdout, stderr = run([empty, good], tmp_path / "out", tiny_models, capsys)
    assert status == 1 and "Traceback" not in stderr and "results:" in stdout
    assert [r["source"] for r in rows(tmp_path / "out" / "results.csv")] == [str(good)] * 2


# --- a full disk ---------------------------------------------------------------------------------------------

def test_rows_stay_whole_when_the_disk_fills(small_disk):
    table = RowFile(small_disk / "rows.csv", CSV_COLUMNS)
    fill(small_disk, 3000)
    written = 0
    with pytest.raises(OutputError, match="No space left on device"):
        for k in range(10_000):
            table.write_row([f"/some/long/source/name_{k}.mp4", k, "0.1234"] + ["3.000"] * (len(CSV_COLUMNS) - 3))
            written += 1
    table.close()
    text = (small_disk / "rows.csv").read_text()
    parsed = list(csv.reader(io.StringIO(text)))
    assert text.endswith("\n") and len(parsed) == written + 1 and all(len(r) == len(CSV_COLUMNS) for r in parsed)


def test_disk_full_stops_the_run_with_one_line(small_disk, tmp_path, tiny_models, capsys):
    loop = noise_loop(tmp_path / "loop.npy", 40, size=(128, 128))
    fill(small_disk, 24_000)
    status, stdout, stderr = run([loop, loop], small_disk / "out", tiny_models, capsys, save_masks=True)
    assert status == 3 and "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "No space left on device" in errors[0], stderr
    assert "results:" in stdout
    text = (small_disk / "out" / "results.csv").read_text()
    assert all(len(r) == len(CSV_COLUMNS) for r in csv.reader(io.StringIO(text))) and (not text or text.endswith("\n"))
    assert len(rows(small_disk / "out" / "results.csv")) < 40


def test_a_fifo_in_place_of_results_csv_does_not_hang(tmp_path, tiny_models, capsys):
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / "results.csv")
    status, _, stderr = run([noise_loop(tmp_path / "loop.npy", 2)], out, tiny_models, capsys)
    assert status == 2 and "cannot write results" in stderr and "Traceback" not in stderr

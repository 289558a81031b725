"""Which files are recordings, what their keys cover, and the output folder's atomic writes (no cluster)."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from echoquality.batch.discover import discover
from echoquality.batch.keys import content_hash, fingerprint, model_folders, record_key
from echoquality.batch.store import (FRAME_COLUMNS, RECORDING_COLUMNS, frames_path, marker_path, markers,
                                     write_frames, write_marker, write_table)
from tests.helpers import DEMO_LOOP, SHARED_DATA

NON_APICAL = SHARED_DATA / "non_apical"


def mhd(path, value: int) -> None:
    path.with_suffix(".raw").write_bytes(bytes([value]) * 16)
    path.write_text("ObjectType = Image\nNDims = 2\nDimSize = 4 4\nElementType = MET_UCHAR\n"
                    f"ElementDataFile = {path.with_suffix('.raw').name}\n")


def test_recordings_and_skipped_files_with_reasons(tmp_path):
    if not NON_APICAL.is_dir():
        pytest.skip("../shared/data/non_apical is not present")
    (tmp_path / "a" / "b").mkdir(parents=True)
    shutil.copy(DEMO_LOOP, tmp_path / "a" / "loop.MP4")
    shutil.copy(NON_APICAL / "1E5H70ZT.dcm", tmp_path / "a" / "b" / "1.2.840.113619.2.1")   # DICOM named by its UID
    shutil.copy(NON_APICAL / "BOF8PYTI.dcm", tmp_path / "a" / "b" / "IM0001")
    np.save(tmp_path / "a" / "frames.npy", np.zeros((2, 8, 8), np.uint8))
    for i in (0, 1, 2, 10):
        mhd(tmp_path / "a" / "b" / f"frame_{i}.mhd", i)
    mhd(tmp_path / "a" / "single.mhd", 7)
    (tmp_path / "a" / "report.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "a" / "README").write_text("no extension, not DICOM")
    (tmp_path / "a" / "b" / "DICOMDIR.txt").write_text("index")

    recordings, skipped = discover([tmp_path / "a", tmp_path / "missing"])
    sources = {r.source: r for r in recordings}
    b = tmp_path / "a" / "b"
    assert set(sources) == {str(tmp_path / "a" / "loop.MP4"), str(b / "1.2.840.113619.2.1"), str(b / "IM0001"),
                            str(tmp_path / "a" / "frames.npy"), str(b / "frame_#.mhd"),
                            str(tmp_path / "a" / "single.mhd")}
    sequence = sources[str(b / "frame_#.mhd")].files   # numbered in order, each header with its data file
    assert sequence == tuple(str(b / f"frame_{i}.{s}") for i in (0, 1, 2, 10) for s in ("mhd", "raw"))
    assert sources[str(tmp_path / "a" / "single.mhd")].files == (str(tmp_path / "a" / "single.mhd"),
                                                                 str(tmp_path / "a" / "single.raw"))
    reasons = {s.source: s.reason for s in skipped}
    assert reasons[str(tmp_path / "a" / "report.pdf")] == "not an image (file type '.pdf')"
    assert reasons[str(tmp_path / "a" / "README")] == "not an image (no extension and no DICOM header)"
    assert reasons[str(tmp_path / "missing")] == "not found"
    assert "read through its header" in reasons[str(tmp_path / "a" / "single.raw")]


def test_keys_follow_content_and_models(tmp_path):
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    np.save(a, np.zeros((2, 8, 8), np.uint8))
    shutil.copy(a, b)
    assert content_hash([str(a)]) == content_hash([str(b)])          # a copy: same content
    folders = model_folders("", "e2e")
    models, covered = fingerprint({"view": "a4c"}, folders)
    assert covered["models"]["segmentation"]["sha256"] and covered["models"]["quality"]["sha256"]
    assert fingerprint({"view": "a2c"}, folders)[0] != models        # settings change the key
    assert fingerprint({"view": "a4c"}, model_folders("", "gcnr"))[0] != models   # so do the models
    assert record_key(content_hash([str(a)]), models) != record_key(content_hash([str(a)]), "other")


def test_output_folder_opens_in_pandas(tmp_path):
    rows = {c: [] for c in FRAME_COLUMNS}
    for i in range(3):
        for c, v in zip(FRAME_COLUMNS, ["k" * 32, "x.npy", i, i / 30, "e2e", "a4c"] + [3.0] * 9 + ["ok"]):
            rows[c].append(v)
    write_frames(tmp_path, "ab" + "0" * 30, rows)
    write_marker(tmp_path, "ab" + "0" * 30, {"row": {"source": "x.npy", "status": "done"}})
    assert frames_path(tmp_path, "ab" + "0" * 30).is_file() and marker_path(tmp_path, "ab" + "0" * 30).is_file()
    assert not list(tmp_path.rglob(".*"))                              # no temporary files left
    assert [m["row"]["source"] for m in markers(tmp_path)] == ["x.npy"]
    frames = pd.read_parquet(tmp_path / "frames")
    assert len(frames) == 3 and list(frames.frame) == [0, 1, 2] and set(frames["shard"]) == {"ab"}
    parquet, csv = write_table(tmp_path, [{"source": "x.npy", "status": "done", "frames": 3},
                                          {"source": "y.txt", "status": "skipped", "error": "not an image"}])
    for table in (pd.read_parquet(parquet), pd.read_csv(csv)):
        assert list(table.columns) == list(RECORDING_COLUMNS) and list(table.status) == ["done", "skipped"]

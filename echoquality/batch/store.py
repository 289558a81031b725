"""The batch output folder: every file written atomically (a temporary name, then a rename), so a crash
leaves either the whole file or none of it.

    DIR/recordings.parquet, DIR/recordings.csv   one row per input file (RECORDING_COLUMNS)
    DIR/frames/shard=XX/<key>.parquet            the per-frame rows of one recording (FRAME_COLUMNS),
                                                 XX = the first two hex digits of its key (256 partitions)
    DIR/done/XX/<key>.json                       done marker: the recording's row and its cycle summary,
                                                 written last, after its Parquet part
    DIR/batch.json                               the models and settings of the analysis (what the keys cover)
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from echoquality.core.vocabulary import REGION_NAMES

MEASUREMENT_COLUMNS = tuple(f"{m}_{what}" for m in ("ef", "gls", "mapse")
                            for what in ("best_cycle", "ed_frame", "es_frame"))
RECORDING_SCHEMA = pa.schema(
    [("source", pa.string()), ("status", pa.string()), ("error", pa.string()), ("view", pa.string()),
     ("frames", pa.int32()), ("frames_scored", pa.int32()), ("gate_reasons", pa.string())]
    + [(f"{r}_median", pa.float32()) for r in REGION_NAMES] + [("global_median", pa.float32())]
    + [("cycles", pa.int32()), ("heart_rate_bpm", pa.float32())]
    + [(c, pa.int32()) for c in MEASUREMENT_COLUMNS]
    + [("ef_percent", pa.float32()), ("cycles_explained", pa.string()),
       ("fps", pa.float32()), ("width", pa.int32()), ("height", pa.int32()), ("method", pa.string()),
       ("runtime_s", pa.float32()), ("worker", pa.string()), ("reused", pa.bool_()),
       ("content_sha256", pa.string()), ("models", pa.string()), ("key", pa.string())])
RECORDING_COLUMNS = tuple(RECORDING_SCHEMA.names)
FRAME_SCHEMA = pa.schema(
    [("key", pa.string()), ("source", pa.string()), ("frame", pa.int32()), ("time_s", pa.float64()),
     ("method", pa.string()), ("view", pa.string())]
    + [(r, pa.float32()) for r in REGION_NAMES] + [("global", pa.float32()), ("status", pa.string())])
FRAME_COLUMNS = tuple(FRAME_SCHEMA.names)

DONE, FAILED, SKIPPED, PENDING = "done", "failed", "skipped", "pending"


def shard(key: str) -> str:
    return key[:2]


def marker_path(out: Path, key: str) -> Path:
    return out / "done" / shard(key) / f"{key}.json"


def frames_path(out: Path, key: str) -> Path:
    return out / "frames" / f"shard={shard(key)}" / f"{key}.parquet"


def _replace_into(path: Path, write) -> None:
    """Write through `write(tmp_path)`, then rename onto `path` (names starting with '.' are ignored by readers)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_frames(out: Path, key: str, rows: dict[str, list]) -> Path:
    """One recording's per-frame rows as its Parquet part."""
    path = frames_path(out, key)
    table = pa.Table.from_pydict({c: rows.get(c, []) for c in FRAME_COLUMNS}, schema=FRAME_SCHEMA)
    _replace_into(path, lambda tmp: pq.write_table(table, tmp))
    return path


def write_marker(out: Path, key: str, payload: dict) -> None:
    """The done marker of a recording (its row and cycle summary); written after its Parquet part."""
    text = json.dumps(payload, default=str)
    _replace_into(marker_path(out, key), lambda tmp: tmp.write_text(text))


def read_marker(path: Path) -> dict | None:
    """A marker's content; None when it is missing or unreadable (it is then redone)."""
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return payload if isinstance(payload, dict) and isinstance(payload.get("row"), dict) else None


def markers(out: Path):
    """Every done marker under DIR/done."""
    for path in sorted((out / "done").glob("*/*.json")):
        payload = read_marker(path)
        if payload is not None:
            yield payload


def write_table(out: Path, rows: list[dict]) -> tuple[Path, Path]:
    """DIR/recordings.parquet and DIR/recordings.csv, one row per input file."""
    table = pa.Table.from_pylist([{c: row.get(c) for c in RECORDING_COLUMNS} for row in rows],
                                 schema=RECORDING_SCHEMA)
    parquet, csv = out / "recordings.parquet", out / "recordings.csv"
    _replace_into(parquet, lambda tmp: pq.write_table(table, tmp))
    _replace_into(csv, lambda tmp: pacsv.write_csv(table, tmp))
    return parquet, csv


def write_settings(out: Path, covered: dict) -> None:
    _replace_into(out / "batch.json", lambda tmp: tmp.write_text(json.dumps(covered, indent=2, default=str) + "\n"))

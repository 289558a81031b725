"""`launch.py analyze --batch-size N`: the same results.csv as frame by frame, bad values refused, live inputs unbatched."""
from __future__ import annotations

import subprocess

import pytest

from echoquality.commands import cli
from echoquality.core.vocabulary import REGION_NAMES
from tests.commands.test_analyze import read_rows, run_analyze
from tests.commands.test_igtl_analyze import Scanner, analyze_cmd
from tests.helpers import DEMO_LOOP, ROOT, free_port

SCORES = REGION_NAMES + ("global",)


def test_batched_rows_equal_frame_by_frame(tmp_path):
    """19 frames: chunks of 8, 8 and 3 (the last not full); the default models, the view recognised per frame."""
    rows = {}
    for size in (1, 8):
        out = tmp_path / f"b{size}"
        result = run_analyze(str(DEMO_LOOP), "--out", str(out), "--max-frames", "19", "--batch-size", str(size))
        assert result.returncode == 0, result.stderr
        rows[size] = read_rows(out / "results.csv")
    one, batched = rows[1], rows[8]
    assert len(one) == len(batched) == 19
    assert [r["frame"] for r in batched] == [r["frame"] for r in one] == [str(k) for k in range(19)]
    for a, b in zip(one, batched):
        assert {k: v for k, v in b.items() if k not in SCORES} == {k: v for k, v in a.items() if k not in SCORES}
        for name in SCORES:
            assert (a[name] == "") == (b[name] == "")
            if a[name]:
                assert float(b[name]) == pytest.approx(float(a[name]), abs=1e-4)
    assert {r["status"] for r in batched} == {"ok"}


@pytest.mark.parametrize("value", ["0", "-3", "abc", "2.5"])
def test_bad_batch_size_is_one_line(tmp_path, capsys, value):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["analyze", str(DEMO_LOOP), "--out", str(tmp_path / "o"), "--batch-size", value])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and "Traceback" not in err and "--batch-size" in err.splitlines()[-1]
    assert not (tmp_path / "o").exists()


def test_live_input_ignores_batch_size_with_one_line(tmp_path, tiny_models):
    scanner = Scanner(free_port())
    try:
        scanner.start()
        out = tmp_path / "live"
        result = subprocess.run(analyze_cmd(f"igtl://127.0.0.1:{scanner.port}", out, tiny_models, "--view", "a4c",
                                            "--max-frames", "5", "--timeout", "10", "--batch-size", "8"),
                                cwd=ROOT, capture_output=True, text=True, timeout=120)
    finally:
        scanner.kill()
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if "--batch-size" in line] == [
        f"WARNING echoquality.commands.analyze: igtl://127.0.0.1:{scanner.port}: live input, analysed one frame at "
        "a time (--batch-size 8 is for recorded inputs)"]
    assert len(read_rows(out / "results.csv")) == 5

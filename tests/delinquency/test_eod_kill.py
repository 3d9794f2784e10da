"""A run killed with SIGKILL at any stage leaves the last complete state readable, and running the date
again finishes it with the same result as a run that was never interrupted."""

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arrears.cli import app

DAY1, DAY2 = "2026-11-19", "2026-11-20"
runner = CliRunner()


def _arrears(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "arrears.cli", *args], env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("eod")
    built = runner.invoke(app, ["demo", "--no-serve", "--loans", "300", "--data-dir", str(folder), "--date", DAY2])
    assert built.exit_code == 0, built.output
    first = runner.invoke(app, ["eod", "--date", DAY1, "--data-dir", str(folder)], env={"ARREARS_BUSINESS_DATE": DAY2})
    assert first.exit_code == 0, first.output
    return folder


def _copy(base: Path, target: Path) -> Path:
    shutil.copytree(base, target)
    return target


def _state(folder: Path) -> tuple:
    with sqlite3.connect(folder / "arrears.db") as conn:
        runs = conn.execute("SELECT business_date FROM eod_runs ORDER BY 1").fetchall()
        state = conn.execute("SELECT * FROM loan_delinquency ORDER BY loan_id").fetchall()
        penalties = conn.execute("SELECT loan_id, seq, penalty_due_fen FROM instalments ORDER BY 1, 2").fetchall()
        entries = conn.execute("SELECT count(*) FROM journal_entries").fetchone()
        moves = conn.execute("SELECT business_date, loan_id, kind, from_value, to_value FROM delinquency_transitions "
                             "ORDER BY 1, 2, 3").fetchall()
    return runs, state, penalties, entries, moves


@pytest.mark.parametrize("stage", ["after_snapshot", "before_commit"])
def test_kill_at_any_stage_then_rerun(base, tmp_path, stage):
    clean = _copy(base, tmp_path / "clean")
    done = runner.invoke(app, ["eod", "--date", DAY2, "--data-dir", str(clean)], env={"ARREARS_BUSINESS_DATE": DAY2})
    assert done.exit_code == 0, done.output

    victim = _copy(base, tmp_path / "victim")
    before = _state(victim)
    marker = tmp_path / "paused"
    proc = _arrears("eod", "--date", DAY2, "--data-dir", str(victim),
                    env={"ARREARS_BUSINESS_DATE": DAY2, "ARREARS_EOD_PAUSE_AT": stage,
                         "ARREARS_EOD_PAUSE_FILE": str(marker)})
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    # The last complete state (DAY1) is untouched and readable. (Held credit applied at the start of the
    # run is a use case of its own, committed before the run proper: its entries may already be there.)
    after_kill = _state(victim)
    assert (after_kill[0], after_kill[1], after_kill[2], after_kill[4]) == (before[0], before[1], before[2], before[4])
    check = runner.invoke(app, ["ledger", "check", "--data-dir", str(victim)])
    assert check.exit_code == 0, check.output

    rerun = runner.invoke(app, ["eod", "--date", DAY2, "--data-dir", str(victim)], env={"ARREARS_BUSINESS_DATE": DAY2})
    assert rerun.exit_code == 0, rerun.output
    assert _state(victim) == _state(clean)
    snapshot = f"snapshots/business_date={DAY2}/snapshot.parquet"
    import pyarrow.parquet as pq
    assert pq.read_table(victim / snapshot).equals(pq.read_table(clean / snapshot))

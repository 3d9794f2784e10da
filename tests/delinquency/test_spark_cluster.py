"""End of day on a Spark cluster: a standalone master and worker (two JVMs of the pyspark this project installs, on
127.0.0.1) are started, ``run_date`` runs a date with ``SparkEngine`` against the master (the executors are the
worker's), and the results it stores equal the DuckDB engine's: running the same date again on DuckDB changes
nothing and posts nothing. Needs Java 17, as ``test_spark.py``; never skipped."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from datetime import date
from pathlib import Path

import pyspark
import pytest
from sqlalchemy import func, select
from support import add_late_and_ontime

from arrears.delinquency.service import run_date
from arrears.delinquency.snapshots import SnapshotStore
from arrears.delinquency.spark import SparkEngine, spark_session
from arrears.delinquency.tables import LoanDelinquency, Transition
from arrears.ledger.service import check_ledger
from arrears.ledger.tables import JournalEntry
from arrears.loans.payments import post_payment

TODAY = date(2024, 6, 30)
DAY = date(2024, 3, 10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _started(log: Path, text: str, process: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            break
        time.sleep(0.3)
    raise RuntimeError(f"Spark did not start: {log.read_text(errors='replace')[-2000:]}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A standalone Spark cluster: one master, one worker with one core."""
    home = Path(pyspark.__file__).parent
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1"}
    tmp = tmp_path_factory.mktemp("spark-cluster")
    port = _free_port()
    url = f"spark://127.0.0.1:{port}"
    spark_class = str(home / "bin" / "spark-class")
    processes = []
    try:
        master_log, worker_log = tmp / "master.log", tmp / "worker.log"
        processes.append(subprocess.Popen(
            [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
             "--webui-port", str(_free_port())], env=env, stdout=master_log.open("w"), stderr=subprocess.STDOUT))
        _started(master_log, "I have been elected leader", processes[0])
        processes.append(subprocess.Popen(
            [spark_class, "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1", "--cores", "1",
             "--memory", "1g", "--webui-port", str(_free_port()), "--work-dir", str(tmp / "work")],
            env=env, stdout=worker_log.open("w"), stderr=subprocess.STDOUT))
        _started(worker_log, "Successfully registered with master", processes[1])
        yield {"url": url, "work": tmp / "work"}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


@pytest.fixture
def book(db, tmp_path):
    with db.session() as s:
        late, _ = add_late_and_ontime(s, (date(2024, 1, 31), date(2024, 2, 29)), TODAY)
        post_payment(s, loan_id=late.id, amount_fen=40_000, received_on=date(2024, 2, 20), idempotency_key="late-1",
                     actor="t", today=TODAY)  # a late, partial payment: penalty weight on a settled chunk
        s.commit()
        return {"db": db, "store": SnapshotStore(tmp_path / "snapshots"), "late": late.id}


def _stored(db) -> tuple[list, int, int, list]:  # noqa: ANN001
    with db.session() as s:
        states = [(r.loan_id, r.dpd, r.bucket, r.classification, r.penalty_due_fen, r.total_outstanding_fen)
                  for r in s.scalars(select(LoanDelinquency).order_by(LoanDelinquency.loan_id))]
        entries = s.scalar(select(func.count()).select_from(JournalEntry))
        penalties = s.scalar(select(func.count()).select_from(JournalEntry).where(JournalEntry.kind == "penalty"))
        kinds = s.scalars(select(Transition.kind).order_by(Transition.loan_id, Transition.kind)).all()
        assert check_ledger(s).ok
    return states, entries, penalties, kinds


def test_end_of_day_on_a_spark_cluster_stores_what_duckdb_would(cluster, book, tmp_path):
    spark = spark_session(cluster["url"])
    try:
        assert spark.sparkContext.master == cluster["url"]  # not a local session left over
        summary = run_date(book["db"].factory, book["store"], DAY, today=TODAY,
                           engine=SparkEngine(tmp_path / "spark", spark))
    finally:
        spark.stop()
    logs = [p.read_text(errors="replace") for p in cluster["work"].glob("app-*/*/stderr")]
    assert any("Finished task" in log for log in logs)  # the worker's executor did the work
    assert sorted(p.name for p in (tmp_path / "spark" / DAY.isoformat() / "out").iterdir()) == [
        "penalties", "rejected", "snapshot", "transitions"]
    assert summary.mode == "full" and summary.loans == 2
    on_spark, snapshot = _stored(book["db"]), book["store"].read(DAY)
    states, entries, penalties, kinds = on_spark
    late = next(s for s in states if s[0] == book["late"])
    assert late[1] == 38 and late[4] > 0 and penalties == 1
    assert kinds == ["became_overdue", "bucket_up", "class_changed"]

    run_date(book["db"].factory, book["store"], DAY, today=TODAY)  # the same date again, on DuckDB
    assert _stored(book["db"]) == on_spark  # the same states and transitions, no penalty delta posted
    assert book["store"].read(DAY).equals(snapshot)

"""`arrears strategy run/report/check` on a demo database (whose end of day already ran the strategy), then one more
end of day run by a caller without the institution's key (its messages stay staged for `strategy run`)."""

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from arrears.cli import app

runner = CliRunner()
DAY = "2026-11-20"
NEXT = "2026-11-23"  # the next business date after the demo's


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("strategy-demo")
    result = runner.invoke(app, ["demo", "--no-serve", "--loans", "300", "--data-dir", str(folder), "--date", DAY])
    assert result.exit_code == 0, result.output
    from datetime import date

    from arrears.db.engine import make_engine, make_session_factory
    from arrears.delinquency.service import run_date
    from arrears.delinquency.snapshots import SnapshotStore

    engine = make_engine(f"sqlite:///{folder / 'arrears.db'}")
    day = date.fromisoformat(NEXT)
    run_date(make_session_factory(engine), SnapshotStore(folder / "snapshots"), day, today=day)  # no key
    engine.dispose()
    return folder


def _one(folder, sql):
    con = sqlite3.connect(folder / "arrears.db")
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def test_run_queues_the_staged_messages_once_and_assigns_waiting_tasks(demo_dir):
    staged = _one(demo_dir, "SELECT count(*) FROM strategy_sends WHERE status = 'staged'")
    assert staged > 0  # the last end of day decided and staged them (it had no key to render with)
    before = _one(demo_dir, "SELECT count(*) FROM outbox_messages WHERE dedupe_key LIKE 'strategy:%'")
    first = runner.invoke(app, ["strategy", "run", "--date", NEXT, "--data-dir", str(demo_dir)])
    assert first.exit_code == 0, first.output
    assert f"queued: {staged}" in first.output
    assert _one(demo_dir, "SELECT count(*) FROM outbox_messages WHERE dedupe_key LIKE 'strategy:%'") == before + staged
    assert _one(demo_dir, "SELECT count(*) FROM work_tasks WHERE assignee_user_id IS NULL") == 0
    again = runner.invoke(app, ["strategy", "run", "--date", NEXT, "--data-dir", str(demo_dir)])
    assert again.exit_code == 0 and "cases: 0" in again.output and "queued: 0" in again.output
    assert _one(demo_dir, "SELECT count(*) FROM outbox_messages WHERE dedupe_key LIKE 'strategy:%'") == before + staged


def test_report_covers_every_decided_case(demo_dir):
    result = runner.invoke(app, ["strategy", "report", "--json", "--data-dir", str(demo_dir)])
    assert result.exit_code == 0, result.output
    arms = json.loads(result.output)["arms"]
    assert sum(a["cases"] for a in arms) == _one(demo_dir, "SELECT count(DISTINCT case_id) FROM strategy_decisions")
    assert {a["role"] for a in arms} <= {"champion", "challenger"}


def test_check_refuses_a_bad_file_in_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("source: test file\nexperiment: e\nsend_at_local: '09:00'\nstrategies:\n  - name: s\n    role: champion\n"
                   "    rules:\n      - {name: r1, actions: [{do: send, template: nope, channel: sms}]}\n")
    result = runner.invoke(app, ["strategy", "check", str(bad)])
    assert result.exit_code == 1
    assert "unknown template 'nope'" in result.output and "(r1)" in result.output
    assert runner.invoke(app, ["strategy", "check"]).exit_code == 0


def test_end_of_day_from_the_command_line_queues_the_strategys_messages(tmp_path):
    """`arrears eod` has the institution's key: what the strategy decides to send is in the outbox at once."""
    folder = tmp_path / "eod-demo"
    built = runner.invoke(app, ["demo", "--no-serve", "--loans", "300", "--data-dir", str(folder), "--date", DAY])
    assert built.exit_code == 0, built.output
    day = NEXT
    before = _one(folder, "SELECT count(*) FROM outbox_messages WHERE dedupe_key LIKE 'strategy:%'")
    result = runner.invoke(app, ["eod", "--date", day, "--data-dir", str(folder)])
    assert result.exit_code == 0, result.output
    decided = _one(folder, f"SELECT count(*) FROM strategy_sends WHERE business_date = '{day}'")
    assert decided > 0
    assert _one(folder, f"SELECT count(*) FROM strategy_sends WHERE business_date = '{day}' AND status = 'staged'") == 0
    assert _one(folder, "SELECT count(*) FROM outbox_messages WHERE dedupe_key LIKE 'strategy:%'") - before == \
        _one(folder, f"SELECT count(*) FROM strategy_sends WHERE business_date = '{day}' AND status = 'queued'") > 0

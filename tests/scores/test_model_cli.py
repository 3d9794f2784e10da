"""`arrears model train / evaluate / activate / score` on a small demo portfolio, end to end through the CLI."""

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from arrears.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    result = runner.invoke(app, ["demo", "--no-serve", "--loans", "400", "--data-dir", str(folder),
                                 "--date", "2026-11-20"])
    assert result.exit_code == 0, result.output
    return folder


def _run(*args):
    result = runner.invoke(app, [*args])
    return result.exit_code, result.output


def test_train_evaluate_and_score_on_the_demo_portfolio(demo_dir, monkeypatch):
    monkeypatch.delenv("ARREARS_MODELS_DIR", raising=False)
    d = ["--data-dir", str(demo_dir)]
    manifests = {}
    for score, source in (("early_warning", "demo"), ("propensity", "demo"), ("completion", "synthetic")):
        code, out = _run("model", "train", "--score", score, "--source", source, "--json", *d)
        assert code == 0, out
        manifests[score] = json.loads(out)
        folder = demo_dir / "models" / score / manifests[score]["version"]
        card = (folder / "card.md").read_text(encoding="utf-8")
        assert "hold-out" in card and "missing" in card and "Limits" in card
    assert manifests["propensity"]["uplift"]["estimated"] is False  # the demo has no contact log
    code, out = _run("model", "evaluate", "--json", *d)
    assert code == 0, out
    figures = json.loads(out)
    assert set(figures) == {"early_warning", "propensity", "completion"}
    for score, f in figures.items():
        assert 0 <= f["auc"] <= 1 and 0 <= f["ks"] <= 1 and 0 <= f["brier"] <= 1, score
        assert sum(row["n"] for row in f["calibration"]) == f["rows"] == manifests[score]["holdout"]["rows"]
        assert f["auc"] == manifests[score]["holdout"]["auc"]  # evaluate re-scores the same hold-out
        assert f["version"] == manifests[score]["version"]
    assert figures["propensity"]["auc"] > 0.6  # the demo's behaviours are learnable
    code, out = _run("model", "score", "--score", "early_warning", "--date", "2026-11-20", *d)
    assert code == 0 and "loans scored" in out, out
    with sqlite3.connect(demo_dir / "arrears.db") as con:
        versions = con.execute("SELECT DISTINCT model_version, kind FROM scores").fetchall()
    assert versions == [(manifests["early_warning"]["version"], "early_warning")]


def test_errors_are_one_clear_line(demo_dir):
    d = ["--data-dir", str(demo_dir)]
    code, out = _run("model", "train", "--score", "completion", "--source", "demo", *d)
    assert code == 1 and "synthetic" in out
    code, out = _run("model", "train", "--score", "nonsense", *d)
    assert code == 1 and "unknown --score" in out
    code, out = _run("model", "activate", "--score", "propensity", "no-such-version", *d)
    assert code == 1 and "no saved propensity model" in out


def test_scoring_propensity_reorders_the_queues_and_the_strategy_reminds_before_the_due_date(demo_dir, monkeypatch):
    """Through the CLI on the demo: `model score --score propensity` sets each open task's priority to the latest
    propensity × amount overdue; `strategy run` decides reminders before the due date once."""
    from decimal import ROUND_HALF_UP, Decimal

    monkeypatch.delenv("ARREARS_MODELS_DIR", raising=False)
    d = ["--data-dir", str(demo_dir)]
    for score in ("early_warning", "propensity"):
        assert _run("model", "train", "--score", score, "--source", "demo", *d)[0] == 0
        code, out = _run("model", "score", "--score", score, "--date", "2026-11-20", *d)
        assert code == 0, out
    with sqlite3.connect(demo_dir / "arrears.db") as con:
        rows = con.execute("""
            SELECT t.priority, s.probability, d.overdue_principal_fen + d.overdue_interest_fen + d.overdue_fee_fen
                   + d.overdue_penalty_fen
            FROM work_tasks t JOIN loan_delinquency d ON d.loan_id = t.loan_id
            JOIN scores s ON s.loan_id = t.loan_id AND s.kind = 'propensity' AND s.as_of = '2026-11-20'
            WHERE t.status = 'open'""").fetchall()
    assert rows and any(r[0] > 0 for r in rows)
    for priority, p, owed in rows:
        micro = (Decimal(str(p)) * 1_000_000).quantize(Decimal(1), ROUND_HALF_UP)
        assert priority == int((micro * owed / 1_000_000).quantize(Decimal(1), ROUND_HALF_UP))
    code, first = _run("strategy", "run", "--date", "2026-11-20", *d)
    assert code == 0 and "pre_due_loans" in first, first
    code, again = _run("strategy", "run", "--date", "2026-11-20", *d)
    assert code == 0 and "pre_due_staged: 0" in again and "pre_due_queued: 0" in again, again
    with sqlite3.connect(demo_dir / "arrears.db") as con:
        twice = con.execute("SELECT count(*) FROM (SELECT loan_id, due_on FROM pre_due_reminders "
                            "WHERE status <> 'refused' GROUP BY loan_id, due_on HAVING count(*) > 1)").fetchone()
    assert twice == (0,)

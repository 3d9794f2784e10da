"""`arrears demo --simulate-days` and `arrears simulate`: a clear error on an empty database, and a few simulated
business days on a tiny demo printed as JSON."""

import json

from typer.testing import CliRunner

from arrears.cli import app

runner = CliRunner()


def test_simulate_needs_an_end_of_day_and_then_works_days_after_it(tmp_path):
    empty = runner.invoke(app, ["init", "--data-dir", str(tmp_path / "empty")])
    assert empty.exit_code == 0, empty.output
    refused = runner.invoke(app, ["simulate", "--days", "2", "--data-dir", str(tmp_path / "empty")])
    assert refused.exit_code == 1 and "no end of day" in refused.output
    built = runner.invoke(app, ["demo", "--no-serve", "--loans", "60", "--simulate-days", "3", "--date",
                                "2026-11-20", "--data-dir", str(tmp_path / "demo")])
    assert built.exit_code == 0, built.output
    more = runner.invoke(app, ["simulate", "--days", "2", "--data-dir", str(tmp_path / "demo")])
    assert more.exit_code == 0, more.output
    report = json.loads(more.output[more.output.index("{"):])
    assert report["days"] == 2 and report["stages_reached"]["preparation"] > 0
    verify = runner.invoke(app, ["audit", "verify", "--data-dir", str(tmp_path / "demo")])
    assert verify.exit_code == 0 and "passed" in verify.output

"""The command line: demo build, ledger check (passing, and failing on a hand-altered posting),
audit verify, imports and their errors as one clear line with a non-zero exit."""

import sqlite3

import pytest
from typer.testing import CliRunner

from arrears.cli import app
from arrears.db.append_only import drop_statements

runner = CliRunner()


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    result = runner.invoke(app, ["demo", "--no-serve", "--loans", "300", "--data-dir", str(folder),
                                 "--date", "2026-11-20"])
    assert result.exit_code == 0, result.output
    assert "300 loans" in result.output and "collector" in result.output
    return folder


def _copy(demo_dir, tmp_path):
    target = tmp_path / "copy"
    target.mkdir()
    source = sqlite3.connect(demo_dir / "arrears.db")
    dest = sqlite3.connect(target / "arrears.db")
    source.backup(dest)
    source.close(), dest.close()
    (target / "secret.key").write_text((demo_dir / "secret.key").read_text())
    return target


def test_demo_database_passes_ledger_check_and_audit_verify(demo_dir):
    ledger = runner.invoke(app, ["ledger", "check", "--data-dir", str(demo_dir)])
    assert ledger.exit_code == 0 and "ledger check passed" in ledger.output
    audit = runner.invoke(app, ["audit", "verify", "--data-dir", str(demo_dir)])
    assert audit.exit_code == 0 and "audit verify passed" in audit.output


def test_ledger_check_fails_when_one_posting_is_altered_by_hand(demo_dir, tmp_path):
    altered = _copy(demo_dir, tmp_path)
    with sqlite3.connect(altered / "arrears.db") as conn:
        for statement in drop_statements("sqlite"):
            conn.execute(statement)
        conn.execute("UPDATE postings SET credit_fen = credit_fen + 100 WHERE id = "
                     "(SELECT min(id) FROM postings WHERE credit_fen > 0 AND account = 'principal_receivable')")
    result = runner.invoke(app, ["ledger", "check", "--data-dir", str(altered)])
    assert result.exit_code == 1
    assert "does not balance" in result.output and "ledger check failed" in result.output


def test_audit_verify_fails_when_an_event_is_altered(demo_dir, tmp_path):
    altered = _copy(demo_dir, tmp_path)
    with sqlite3.connect(altered / "arrears.db") as conn:
        for statement in drop_statements("sqlite"):
            conn.execute(statement)
        conn.execute("UPDATE events SET actor = 'someone-else' WHERE id = (SELECT min(id) FROM events)")
    result = runner.invoke(app, ["audit", "verify", "--data-dir", str(altered)])
    assert result.exit_code == 1 and "altered" in result.output


def test_import_errors_are_one_clear_line_and_exit_1(demo_dir, tmp_path):
    bad = tmp_path / "loans.csv"
    bad.write_text("loan_no,borrower_no\nX1,B0000001\n", encoding="utf-8")
    result = runner.invoke(app, ["import", "loans", str(bad), "--data-dir", str(demo_dir)])
    assert result.exit_code == 1
    assert "missing column(s) product_code" in result.output
    assert "Traceback" not in result.output


def test_commands_refuse_an_uninitialised_database(tmp_path):
    result = runner.invoke(app, ["ledger", "check", "--data-dir", str(tmp_path / "empty")])
    assert result.exit_code == 1 and "arrears init" in result.output


def test_init_then_import_borrowers(tmp_path):
    folder = tmp_path / "d"
    assert runner.invoke(app, ["init", "--data-dir", str(folder)]).exit_code == 0
    good = tmp_path / "b.csv"
    good.write_text("borrower_no,name,id_number,phone\nB1,张三,110101199003076632,13800000001\n", encoding="utf-8")
    result = runner.invoke(app, ["import", "borrowers", str(good), "--data-dir", str(folder)])
    assert result.exit_code == 0 and "1 imported" in result.output

"""The command line: demo build, ledger check (passing, and failing on a hand-altered posting),
audit verify, imports and their errors as one clear line with a non-zero exit."""

import json
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


def test_write_off_and_transfer_from_the_command_line(demo_dir, tmp_path):
    """Maker-checker holds on the command line too; a stale version and a bad price are one clear line each."""
    data = _copy(demo_dir, tmp_path)
    where = ["--data-dir", str(data), "--date", "2026-11-20"]
    # The demo's own batch (demo.stories) holds every loan the rules select: the checker rejects it first.
    rejected = runner.invoke(app, ["writeoff", "decide", "1", "--reject", "--reason", "待补充材料", "--as",
                                   "supervisor", "--version", "1", *where])
    assert rejected.exit_code == 0 and json.loads(rejected.output)["status"] == "rejected", rejected.output
    proposed = runner.invoke(app, ["writeoff", "propose", "--as", "admin", *where])
    assert proposed.exit_code == 0, proposed.output
    batch = json.loads(proposed.output)
    assert batch["status"] == "proposed" and batch["loans"] >= 1 and batch["amount_fen"] > 0
    own = runner.invoke(app, ["writeoff", "decide", str(batch["id"]), "--approve", "--as", "admin", "--version", "1",
                              *where])
    assert own.exit_code == 1 and "maker" in own.output
    stale = runner.invoke(app, ["writeoff", "decide", str(batch["id"]), "--approve", "--as", "supervisor",
                                "--version", "2", *where])
    assert stale.exit_code == 1 and "version" in stale.output
    shown = runner.invoke(app, ["writeoff", "show", str(batch["id"]), "--as", "supervisor", "--data-dir", str(data)])
    assert shown.exit_code == 0 and shown.output.count("loss") >= batch["loans"]
    missing = runner.invoke(app, ["writeoff", "show", "999999", "--as", "supervisor", "--data-dir", str(data)])
    assert missing.exit_code == 1 and "no write-off batch 999999" in missing.output
    done = runner.invoke(app, ["writeoff", "decide", str(batch["id"]), "--approve", "--as", "supervisor",
                               "--version", "1", *where])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["status"] == "approved"

    # The demo's open complaint (demo.stories) freezes its borrower's notices, the sale's too: the package leaves
    # complaining borrowers out.
    with sqlite3.connect(data / "arrears.db") as con:
        chosen = [str(n) for (n,) in con.execute(
            "SELECT l.id FROM loans l JOIN loan_delinquency d ON d.loan_id = l.id WHERE l.status = 'active' "
            "AND d.dpd >= 90 AND l.borrower_id NOT IN (SELECT borrower_id FROM complaints) ORDER BY l.id LIMIT 5")]
    built = runner.invoke(app, ["transfer", "build", "T1", "--as", "admin", *[a for n in chosen for a in ("--loan", n)],
                                *where])
    assert built.exit_code == 0, built.output
    package = json.loads(built.output)
    assert package["status"] == "draft" and package["loans"] >= 1
    listed = runner.invoke(app, ["transfer", "show", str(package["id"]), "--as", "admin", "--data-dir", str(data)])
    assert listed.exit_code == 0 and f"transfer package {package['id']}" in listed.output, listed.output
    refused = runner.invoke(app, ["transfer", "show", str(package["id"]), "--as", "collector", "--data-dir",
                                  str(data)])
    assert refused.exit_code == 1 and "needs transfer:manage" in refused.output, refused.output
    exported = runner.invoke(app, ["transfer", "export", str(package["id"]), "--as", "admin", "--out",
                                   str(tmp_path / "out"), "--data-dir", str(data)])
    assert exported.exit_code == 0, exported.output
    manifest = json.loads(next((tmp_path / "out").rglob("manifest.json")).read_text())
    assert manifest["loans"] == package["loans"] and manifest["documents"]
    bad = runner.invoke(app, ["transfer", "sell", str(package["id"]), "--as", "admin", "--buyer", "资产管理公司",
                              "--price", "12.345", "--version", str(package["version"]), *where])
    assert bad.exit_code == 1 and "price" in bad.output
    sold = runner.invoke(app, ["transfer", "sell", str(package["id"]), "--as", "admin", "--buyer", "资产管理公司",
                               "--price", "1000.00", "--version", str(package["version"]), *where])
    assert sold.exit_code == 0, sold.output
    assert (json.loads(sold.output)["status"], json.loads(sold.output)["price_fen"]) == ("sold", 100_000)
    assert runner.invoke(app, ["ledger", "check", "--data-dir", str(data)]).exit_code == 0
    nobody = runner.invoke(app, ["writeoff", "propose", "--as", "nobody", *where])
    assert nobody.exit_code == 1 and "nobody" in nobody.output


def test_end_of_day_on_spark_from_the_command_line(demo_dir, tmp_path):
    """`arrears eod --engine spark` (a local session here; tests/delinquency/test_spark_cluster.py runs a cluster):
    the demo's date again gives what DuckDB gave — no penalty to post — and the session is let go afterwards."""
    from pyspark.sql import SparkSession

    data = _copy(demo_dir, tmp_path)
    wrong = runner.invoke(app, ["eod", "--date", "2026-11-20", "--engine", "gpu", "--data-dir", str(data)])
    assert wrong.exit_code == 1 and "--engine must be duckdb or spark" in wrong.output
    result = runner.invoke(app, ["eod", "--date", "2026-11-20", "--engine", "spark", "--spark-master", "local[1]",
                                 "--spark-dir", str(tmp_path / "spark"), "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    assert "300 loans" in result.output and "0 instalments, 0.00 yuan" in result.output
    assert sorted(p.name for p in (tmp_path / "spark" / "2026-11-20" / "out").iterdir()) == [
        "penalties", "rejected", "snapshot", "transitions"]
    assert SparkSession.getActiveSession() is None

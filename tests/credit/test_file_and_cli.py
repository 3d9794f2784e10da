"""The credit-report file: what month-end writes validates; each kind of damage is reported with its line,
field and rule; the CLI exits 1 naming them; `arrears bench legal --json` prints the agreed keys."""

import json
import subprocess
import sys
from datetime import datetime, timezone

import duckdb
import pytest
from typer.testing import CliRunner

from arrears.cli import app
from arrears.credit.bench import REPORT, _loans, _snapshots
from arrears.credit.fileformat import validate_file, write_file
from arrears.credit.policy import credit_policy
from arrears.credit.records import (CLOSURES_SCHEMA, CORRECTIONS_SCHEMA, DISPUTED_SCHEMA, EVENTS_SCHEMA, Inputs,
                                    build_records)


@pytest.fixture(scope="module")
def good_file(tmp_path_factory):
    root = tmp_path_factory.mktemp("credit")
    con = duckdb.connect()
    loans = _loans(con, 300)
    con.register("bench_loans", loans)
    files = _snapshots(con, root / "snapshots")
    inputs = Inputs(loans, CLOSURES_SCHEMA.empty_table(), CORRECTIONS_SCHEMA.empty_table(),
                    EVENTS_SCHEMA.empty_table(), DISPUTED_SCHEMA.empty_table(), files)
    records = build_records(credit_policy(), REPORT, inputs)
    path = root / "credit.jsonl"
    write_file(path, credit_policy(), REPORT, records.accounts, records.specials, datetime.now(timezone.utc))
    return path


def _damaged(good_file, tmp_path, line_no, change):
    lines = good_file.read_text(encoding="utf-8").splitlines()
    obj = json.loads(lines[line_no - 1])
    change(obj)
    lines[line_no - 1] = json.dumps(obj, ensure_ascii=False)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return bad


def test_written_file_is_valid_with_header_counts(good_file):
    result = validate_file(good_file, credit_policy())
    assert result.ok, result.problems
    header = json.loads(good_file.read_text(encoding="utf-8").splitlines()[0])
    assert (header["accounts"], header["specials"]) == (result.accounts, result.specials) and result.accounts > 0


@pytest.mark.parametrize(("line", "change", "expected"), [
    (3, lambda o: o.update(status_24=o["status_24"][:-1]), "line 3: status_24"),
    (4, lambda o: o.update(status_24="Q" * 24), "line 4: status_24"),
    (2, lambda o: o.update(balance_fen=-1), "line 2: balance_fen"),
    (2, lambda o: o.update(dpd="12"), "line 2: dpd"),
    (5, lambda o: o.pop("disputed"), "line 5: fields"),
    (2, lambda o: o.update(report_month="2020-01"), "line 2: report_month"),
    (1, lambda o: o.update(accounts=o["accounts"] + 1), "line 1: accounts"),
    (2, lambda o: o.update(account_state="gone"), "line 2: account_state"),
])
def test_damage_is_named_by_line_and_field(good_file, tmp_path, line, change, expected):
    bad = _damaged(good_file, tmp_path, line, change)
    problems = validate_file(bad, credit_policy()).problems
    assert any(p.startswith(expected) and "(rule credit.file." in p for p in problems), problems


def test_special_code_must_match_its_kind(good_file, tmp_path):
    lines = good_file.read_text(encoding="utf-8").splitlines()
    n = next(i for i, x in enumerate(lines, start=1) if json.loads(x)["record"] == "S")
    bad = _damaged(good_file, tmp_path, n, lambda o: o.update(special_code="99"))
    assert any(p.startswith(f"line {n}: special_code") for p in validate_file(bad, credit_policy()).problems)


def test_cli_validate_exits_1_naming_line_and_field(good_file, tmp_path):
    runner = CliRunner()
    ok = runner.invoke(app, ["credit", "validate", str(good_file)])
    assert ok.exit_code == 0 and "valid" in ok.output
    bad = _damaged(good_file, tmp_path, 3, lambda o: o.update(status_24="N"))
    result = runner.invoke(app, ["credit", "validate", str(bad)])
    assert result.exit_code == 1 and "line 3: status_24" in result.output


def test_bench_legal_prints_one_json_object_with_the_credit_and_evidence_keys():
    out = subprocess.run([sys.executable, "-m", "arrears.cli", "bench", "legal", "--accounts", "2000",
                          "--attempts", "20", "--json"],
                         capture_output=True, text=True, check=True).stdout
    figures = json.loads(out)
    assert figures["credit_accounts"] == 2000 and figures["credit_records_s"] > 0
    assert 0 < figures["account_records"] <= 2000
    assert figures["evidence_bundle_s"] > 0 and figures["verified"] is True

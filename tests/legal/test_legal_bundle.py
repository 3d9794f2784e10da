"""The evidence bundle on its own: later records appear generically (an event another capability appends), the
borrower's other loan stays out, and verification catches a changed, a missing and an added file, a swapped
manifest entry and a file that is no bundle; the CLI builds one (audited) and verifies it."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date

import pytest
from legal_helpers import NOW, xiao_li
from typer.testing import CliRunner

from arrears.audit.service import append_event
from arrears.cli import app
from arrears.db.engine import make_engine, make_session_factory, unit_of_work
from arrears.legal.bundle import BundleError, build_bundle, pack, verify_bundle
from arrears.loans.tables import Borrower
from arrears.settings import load_settings
from support import CIPHER, add_loan, schedule

runner = CliRunner()


def _rezip(data: bytes, change) -> bytes:  # noqa: ANN001
    src = zipfile.ZipFile(io.BytesIO(data))
    files = {n: src.read(n) for n in src.namelist()}
    change(files)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for n, d in files.items():
            z.writestr(n, d)
    return out.getvalue()


def test_later_records_appear_and_other_loans_stay_out(db, tmp_path):
    ids = xiao_li(db, tmp_path, attempts=1)
    with unit_of_work(db.factory) as s:
        other = add_loan(s, s.get(Borrower, ids["borrower"]), "L-OTHER", schedule(2))
        # What the agreements and hardship capabilities will append: events naming the loan or the case.
        append_event(s, actor="negotiator", action="hardship.applied", subject_type="hardship_application",
                     subject_id=7, borrower_id=ids["borrower"], after={"loan_id": ids["loan"], "reason": "失业"})
        append_event(s, actor="negotiator", action="agreement.signed", subject_type="agreement", subject_id=3,
                     borrower_id=ids["borrower"], after={"case_id": ids["case"], "terms": "12 期"})
        append_event(s, actor="negotiator", action="agreement.signed", subject_type="agreement", subject_id=4,
                     borrower_id=ids["borrower"], after={"loan_id": other.id})
        bundle = build_bundle(s, cipher=CIPHER, case_id=ids["case"], actor="t", now=NOW)
    z = zipfile.ZipFile(io.BytesIO(bundle.data))
    events = [json.loads(x) for x in z.read("10_events.jsonl").decode().splitlines()]
    subjects = {tuple(e["subject"][:2]) for e in events}
    assert ("hardship_application", "7") in subjects and ("agreement", "3") in subjects
    assert ("agreement", "4") not in subjects and ("loan", str(other.id)) not in subjects
    assert "L-OTHER" not in z.read("02_schedule.csv").decode("utf-8-sig")
    manifest = json.loads(z.read("manifest.json"))
    assert {f["path"] for f in manifest["files"]} == set(z.namelist()) - {"manifest.json"}


def test_verify_names_every_kind_of_tampering():
    good = pack([("00_index.pdf", b"%PDF-1"), ("02_schedule.csv", b"seq\n1\n")], {"case_id": 1}).data
    assert verify_bundle(good) == []
    changed = _rezip(good, lambda f: f.update({"02_schedule.csv": b"seq\n2\n"}))
    assert [p.split(":")[0] for p in verify_bundle(changed)] == ["02_schedule.csv"]
    missing = _rezip(good, lambda f: f.pop("00_index.pdf"))
    assert verify_bundle(missing) == ["00_index.pdf: missing"]
    added = _rezip(good, lambda f: f.update({"extra.txt": b"x"}))
    assert verify_bundle(added) == ["extra.txt: not in the manifest"]

    def rehash(files):  # changes a file and its manifest size, but not the hash: still caught
        m = json.loads(files["manifest.json"])
        m["files"][1]["bytes"] = 6
        files["02_schedule.csv"] = b"seq\n9\n"[:6]
        files["manifest.json"] = json.dumps(m).encode()
    assert [p.split(":")[0] for p in verify_bundle(_rezip(good, rehash))] == ["02_schedule.csv"]
    with pytest.raises(BundleError, match="not a zip"):
        verify_bundle(b"PK not really")
    with pytest.raises(BundleError, match="no manifest.json"):
        verify_bundle(_rezip(good, lambda f: f.pop("manifest.json")))


def test_cli_builds_deadlines_and_verifies(tmp_path):
    data = tmp_path / "data"
    assert runner.invoke(app, ["init", "--data-dir", str(data)]).exit_code == 0
    settings = load_settings(data)
    engine = make_engine(settings.database_url)

    class Db:  # what xiao_li needs of the db fixture
        factory = make_session_factory(engine)

    from arrears.privacy import PersonalDataCipher

    ids = xiao_li(Db, tmp_path, attempts=2, cipher=PersonalDataCipher(settings.secret_key))
    engine.dispose()
    out = tmp_path / "bundle.zip"
    built = runner.invoke(app, ["legal", "evidence", str(ids["case"]), "--out", str(out), "--actor", "fawu",
                                "--data-dir", str(data)])
    assert built.exit_code == 0, built.output
    assert "李小明" in zipfile.ZipFile(out).read("01_contract.json").decode()
    ok = runner.invoke(app, ["legal", "verify-bundle", str(out)])
    assert ok.exit_code == 0 and "bundle verify passed" in ok.output
    out.write_bytes(_rezip(out.read_bytes(), lambda f: f.update({"03_payments.csv": b"tampered"})))
    bad = runner.invoke(app, ["legal", "verify-bundle", str(out)])
    assert bad.exit_code == 1 and "03_payments.csv: changed" in bad.output
    (tmp_path / "junk.zip").write_bytes(b"junk")
    junk = runner.invoke(app, ["legal", "verify-bundle", str(tmp_path / "junk.zip")])
    assert junk.exit_code == 1 and "not a zip file" in junk.output
    deadlines = runner.invoke(app, ["legal", "deadlines", "--date", str(date(2024, 9, 1)), "--data-dir", str(data)])
    assert deadlines.exit_code == 0 and "0 task(s) raised" in deadlines.output
    audit = runner.invoke(app, ["audit", "verify", "--data-dir", str(data)])
    assert audit.exit_code == 0, audit.output


def test_bench_evidence_prints_one_json_object():
    result = runner.invoke(app, ["bench", "evidence", "--attempts", "20", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["verified"] is True and figures["contact_attempts"] == 20
    assert figures["evidence_bundle_s"] > 0 and figures["bundle_files"] >= 12

"""Write-off and transfer over HTTP: maker-checker (the proposer's approval is 403), permissions per role,
a sale posting balanced entries and queueing notices, a bad price refused naming the field."""

from datetime import date

import pytest
from sqlalchemy import func, select
from support import add_agreement_in_force, add_borrower, add_loan

from arrears.contact.tables import OutboxMessage
from arrears.delinquency.service import run_date
from arrears.delinquency.snapshots import SnapshotStore
from arrears.ledger.service import check_ledger
from arrears.ledger.tables import JournalEntry, Posting
from arrears.loans.tables import Loan
from arrears.privacy import PersonalDataCipher

DAY = date(2025, 4, 30)  # the first instalment (2024-02-01) is 454 days overdue: class 损失 (loss)
pytestmark = pytest.mark.business_date(DAY.isoformat())


@pytest.fixture
def book(db, tmp_path, secret_key):
    """L1 and L3 overdue, L2 under a repayment agreement; snapshots where the app looks (data_dir)."""
    cipher = PersonalDataCipher(secret_key)  # the app's cipher: notices decrypt the borrower's name
    with db.session() as s:
        ids = {}
        for n in (1, 2, 3):
            b = add_borrower(s, f"B{n}", id_number=f"11010119900307000{n}", phone=f"1390000000{n}", cipher=cipher)
            ids[f"L{n}"] = add_loan(s, b, f"L{n}").id
        s.commit()
    run_date(db.factory, SnapshotStore(tmp_path / "snapshots"), DAY, today=DAY)
    with db.session() as s:
        add_agreement_in_force(s, ids["L2"], DAY, due_on=date(2025, 12, 31), cipher=cipher)
        s.commit()
    return ids


def test_write_off_maker_cannot_approve_a_supervisor_can(db, book, make_client):
    with make_client("admin", "legal", "supervisor", "collector") as c:
        assert c.post("/api/v1/writeoffs", headers=c.bearer("collector")).status_code == 403
        made = c.post("/api/v1/writeoffs", headers=c.bearer("admin"))
        assert made.status_code == 201, made.text
        batch = made.json()
        assert batch["status"] == "proposed" and [i["loan_id"] for i in batch["items"]] == [book["L1"], book["L3"]]
        assert batch["amount_fen"] == sum(i["balance_fen"] for i in batch["items"]) > 0
        own = c.post(f"/api/v1/writeoffs/{batch['id']}/decision", json={"approve": True},
                     headers=c.bearer("admin"))
        assert own.status_code == 403 and own.json()["rule"] == "writeoff.maker_checker"
        legal = c.post(f"/api/v1/writeoffs/{batch['id']}/decision", json={"approve": True},
                       headers=c.bearer("legal"))  # may propose, may not approve
        assert legal.status_code == 403 and legal.json()["rule"] == "auth.permission"
        stale = c.post(f"/api/v1/writeoffs/{batch['id']}/decision",
                       json={"approve": True, "expected_version": batch["version"] + 1},
                       headers=c.bearer("supervisor"))
        assert stale.status_code == 409
        done = c.post(f"/api/v1/writeoffs/{batch['id']}/decision",
                      json={"approve": True, "expected_version": batch["version"]}, headers=c.bearer("supervisor"))
        assert done.status_code == 200, done.text
        assert (done.json()["status"], done.json()["decided_by"]) == ("approved", "supervisor")
        seen = c.get(f"/api/v1/writeoffs/{batch['id']}", headers=c.bearer("supervisor"))
        assert seen.json()["status"] == "approved"
        assert c.get("/api/v1/writeoffs/999999", headers=c.bearer("supervisor")).status_code == 404
        again = c.post(f"/api/v1/writeoffs/{batch['id']}/decision", json={"approve": True},
                       headers=c.bearer("supervisor"))
        assert again.status_code == 409 and again.json()["rule"] == "writeoff.proposed"
    with db.session() as s:
        report = check_ledger(s)
        assert report.ok, report.problems
        assert [s.get(Loan, book[k]).status for k in ("L1", "L2", "L3")] == ["written_off", "active", "written_off"]
        loss = s.scalar(select(func.sum(Posting.debit_fen)).where(Posting.account == "loan_loss"))
        assert loss == batch["amount_fen"]

    # Money received later: recorded once per key, never more than was written off, yuan as text.
    owed = next(i["balance_fen"] for i in done.json()["items"] if i["loan_id"] == book["L1"])
    url = f"/api/v1/writeoffs/recoveries/{book['L1']}"
    body = {"amount": "100.50", "received_on": DAY.isoformat(), "idempotency_key": "rec-1"}
    with make_client() as c:
        assert c.post(url, json=body, headers=c.bearer("collector")).status_code == 403
        first = c.post(url, json=body, headers=c.bearer("supervisor"))
        assert first.status_code == 201, first.text
        assert (first.json()["amount_fen"], first.json()["recovered_fen"], first.json()["written_off_fen"]) == (
            10_050, 10_050, owed)
        again = c.post(url, json=body, headers=c.bearer("supervisor"))
        assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
        assert again.json()["recovered_fen"] == 10_050  # not counted twice
        reused = c.post(url, json={**body, "amount": "100.51"}, headers=c.bearer("supervisor"))
        assert reused.status_code == 409 and reused.json()["rule"] == "recovery.key_reused"
        for amount, rule in (("abc", "amount.yuan_format"), ("1.234", "amount.yuan_format")):
            bad = c.post(url, json={**body, "amount": amount, "idempotency_key": "rec-2"},
                         headers=c.bearer("supervisor"))
            assert (bad.status_code, bad.json()["field"], bad.json()["rule"]) == (422, "amount", rule)
        too_much = c.post(url, json={**body, "amount": f"{owed // 100 + 1}.00", "idempotency_key": "rec-3"},
                          headers=c.bearer("supervisor"))
        assert too_much.status_code == 422 and too_much.json()["rule"] == "recovery.at_most_owed"
        active = c.post(f"/api/v1/writeoffs/recoveries/{book['L2']}", json={**body, "idempotency_key": "rec-4"},
                        headers=c.bearer("supervisor"))
        assert active.status_code == 422 and active.json()["rule"] == "recovery.written_off_only"
    with db.session() as s:
        assert check_ledger(s).ok


def test_a_proposal_with_nothing_to_select_is_refused(db, make_client):
    with make_client("legal") as c:
        r = c.post("/api/v1/writeoffs", headers=c.bearer("legal"))
        assert r.status_code == 422 and r.json()["rule"] == "writeoff.nothing_selected"


def test_transfer_sale_posts_balanced_entries_and_notifies_every_debtor(db, book, make_client):
    with make_client("supervisor", "legal") as c:
        h = c.bearer("supervisor")
        assert c.post("/api/v1/transfers", json={"code": "P1"}, headers=c.bearer("legal")).status_code == 403
        built = c.post("/api/v1/transfers", json={"code": "P1"}, headers=h)
        assert built.status_code == 201, built.text
        package = built.json()
        assert package["status"] == "draft" and [i["loan_id"] for i in package["items"]] == [book["L1"], book["L3"]]
        refused = c.post("/api/v1/transfers", json={"code": "P2", "loan_ids": [book["L2"]]}, headers=h)
        assert refused.status_code == 422 and refused.json()["rule"] == "transfer.under_agreement"
        url = f"/api/v1/transfers/{package['id']}/sale"
        for bad in ("12.345", "-1", "abc", ""):
            r = c.post(url, json={"buyer": "某资产管理公司", "price": bad}, headers=h)
            assert r.status_code == 422 and r.json()["field"] == "price", (bad, r.text)
        assert c.post(url, json={"buyer": "X", "price": 1000}, headers=h).status_code == 422  # no JSON numbers
        sold = c.post(url, json={"buyer": "某资产管理公司", "price": "1,234.56"}, headers=h)
        assert sold.status_code == 200, sold.text
        out = sold.json()
        assert (out["status"], out["price_fen"], out["buyer"]) == ("sold", 123456, "某资产管理公司")
        assert sum(i["price_fen"] for i in out["items"]) == 123456
        assert c.get(f"/api/v1/transfers/{package['id']}", headers=h).json()["status"] == "sold"
        assert c.get("/api/v1/transfers/999999", headers=h).status_code == 404
    with db.session() as s:
        report = check_ledger(s)
        assert report.ok, report.problems
        sale = select(func.sum(Posting.debit_fen)).join(JournalEntry, JournalEntry.id == Posting.entry_id) \
            .where(JournalEntry.kind == "transfer", Posting.account == "cash_clearing")
        assert s.scalar(sale) == 123456  # the price comes in as cash, split over the loans
        notices = s.scalars(select(OutboxMessage).where(OutboxMessage.template == "debt_transfer_notice")).all()
        assert sorted(m.loan_id for m in notices) == [book["L1"], book["L3"]]
        assert all(m.status == "pending" for m in notices)
        assert [s.get(Loan, book[k]).status for k in ("L1", "L3")] == ["transferred", "transferred"]

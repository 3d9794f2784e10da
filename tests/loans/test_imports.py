"""Imports of borrowers, loans (given or generated schedules) and payments, on SQLite and PostgreSQL."""

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from arrears.errors import Conflict, InvalidInput
from arrears.ledger.service import check_ledger
from arrears.loans.imports.borrowers import import_borrowers
from arrears.loans.imports.common import ImportRejected
from arrears.loans.imports.loans import import_loans
from arrears.loans.imports.payments import import_payments
from arrears.loans.model import LoanTerms
from arrears.loans.payments import post_payment
from arrears.loans.schedules import generate_schedule
from arrears.loans.tables import Borrower, Instalment, Loan, Payment, PaymentAllocation
from arrears.privacy import PersonalDataCipher
from arrears.products.catalog import catalog
from arrears.products.model import RepaymentMethod

TODAY = date(2026, 6, 30)
CIPHER = PersonalDataCipher(bytes(32))
BORROWERS = [
    {"borrower_no": "B1", "name": "王小明", "id_number": "110101199003076632", "phone": "13800000001"},
    {"borrower_no": "B2", "name": "李小红", "id_number": "110101199003074979", "phone": "13800000002"},
]
LOAN = {"loan_no": "L1", "borrower_no": "B1", "product_code": "consumer_loan", "repayment_method": "equal_instalment",
        "principal": "120,000.00", "annual_rate": "4.35%", "term": "12", "disbursed_on": "2026-01-05",
        "first_due_on": "2026-02-05"}


def write(path: Path, rows: list[dict]) -> Path:
    names = list(rows[0])
    if path.suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=names)
            writer.writeheader()
            writer.writerows(rows)
    elif path.suffix == ".xlsx":
        book = Workbook()
        sheet = book.active
        sheet.append(names)
        for row in rows:
            sheet.append([row[n] for n in names])
        book.save(path)
    else:
        pq.write_table(pa.table({n: [r[n] for r in rows] for n in names}), path)
    return path


def loan(**changes) -> dict:
    return {**LOAN, **changes}


def load_borrowers(db, tmp_path, rows=BORROWERS):
    with db.session() as s, s.begin():
        return import_borrowers(s, write(tmp_path / "b.csv", rows), CIPHER, actor="test")


def load_loans(db, tmp_path, rows, suffix=".csv", **kw):
    with db.session() as s, s.begin():
        return import_loans(s, write(tmp_path / f"l{suffix}", rows), actor="test", today=TODAY, **kw)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".parquet"])
def test_loans_import_from_each_format_generates_the_reference_schedule(db, tmp_path, suffix):
    load_borrowers(db, tmp_path)
    report = load_loans(db, tmp_path, [loan(), loan(loan_no="L2", borrower_no="B2", repayment_method="equal_principal",
                                                    annual_rate="0.058", term="24")], suffix)
    assert (report.rows, report.imported, report.rejected) == (2, 2, 0)
    with db.session() as s:
        stored = s.scalar(select(Loan).where(Loan.loan_no == "L1"))
        assert stored.principal_fen == 12_000_000 and stored.annual_rate == Decimal("0.0435")
        rows = s.scalars(select(Instalment).where(Instalment.loan_id == stored.id).order_by(Instalment.seq)).all()
        expected = generate_schedule(LoanTerms(12_000_000, Decimal("0.0435"), 12, RepaymentMethod.equal_instalment,
                                               date(2026, 1, 5), date(2026, 2, 5)), catalog().product("consumer_loan"))
        assert [(r.seq, r.due_on, r.principal_due_fen, r.interest_due_fen) for r in rows] == \
            [(e.seq, e.due_on, e.principal_fen, e.interest_fen) for e in expected]
        assert check_ledger(s).ok


def test_borrower_personal_data_is_encrypted_at_rest(db, tmp_path):
    load_borrowers(db, tmp_path)
    with db.session() as s:
        b = s.scalar(select(Borrower).where(Borrower.borrower_no == "B1"))
    assert "王小明".encode() not in b.name_enc and CIPHER.decrypt(b.name_enc) == "王小明"
    assert b.id_number_digest == CIPHER.digest("110101199003076632")


def test_one_bad_row_rejects_the_file_and_names_row_column_and_rule(db, tmp_path):
    load_borrowers(db, tmp_path)
    rows = [loan(), loan(loan_no="L2", principal="-5"), loan(loan_no="L3", product_code="gold_loan"),
            loan(loan_no="L4", first_due_on="2026-01-01"), loan(loan_no="L1"), loan(loan_no="L6", principal="0"),
            loan(loan_no="L7", disbursed_on="2027-01-01", first_due_on="2027-02-01"),
            loan(loan_no="L8", borrower_no="nobody"), loan(loan_no="L9", annual_rate="0.30")]
    with pytest.raises(ImportRejected) as exc:
        load_loans(db, tmp_path, rows)
    found = {(e["row"], e["column"], e["rule"]) for e in exc.value.errors}
    assert {(3, "principal", "principal.format"), (4, "product_code", "product.known"),
            (5, "first_due_on", "dates.order"), (2, "loan_no", "loan_no.unique"), (6, "loan_no", "loan_no.unique"),
            (7, "principal", "principal.positive"), (8, "disbursed_on", "disbursed_on.not_future"),
            (9, "borrower_no", "borrower.exists"), (10, "annual_rate", "annual_rate.max")} <= found
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Loan)) == 0  # nothing half-written


def test_skip_invalid_imports_good_rows_and_writes_rejects(db, tmp_path):
    load_borrowers(db, tmp_path)
    rejects = tmp_path / "rejects.csv"
    report = load_loans(db, tmp_path, [loan(), loan(loan_no="L2", term="0")], skip_invalid=True, rejects_path=rejects)
    assert (report.imported, report.rejected, report.rejects_path) == (1, 1, str(rejects))
    lines = rejects.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("row,loan_no") and lines[1].startswith("3,L2") and "term.range" in lines[1]


def test_duplicate_against_database_and_duplicate_borrowers(db, tmp_path):
    load_borrowers(db, tmp_path)
    load_loans(db, tmp_path, [loan()])
    with pytest.raises(ImportRejected, match="already exists"):
        load_loans(db, tmp_path, [loan()])
    with pytest.raises(ImportRejected) as exc:
        load_borrowers(db, tmp_path, [BORROWERS[0] | {"borrower_no": "B9", "id_number": "110101199003074970"}])
    assert {e["rule"] for e in exc.value.errors} == {"id_number.checksum"}


@pytest.mark.parametrize("content", [b"\x00\x01garbage", b"loan_no,borrower_no\nL1,B1\n"])
def test_malformed_files_get_a_clear_error(db, tmp_path, content):
    path = tmp_path / "broken.xlsx" if content.startswith(b"\x00") else tmp_path / "short.csv"
    path.write_bytes(content)
    with db.session() as s, pytest.raises(InvalidInput) as exc:
        import_loans(s, path, actor="test", today=TODAY)
    assert exc.value.rule in {"file.format", "header.columns"}
    assert path.name in str(exc.value)


def test_unsupported_file_type_and_float_parquet_columns(db, tmp_path):
    with db.session() as s, pytest.raises(InvalidInput, match="unsupported file type"):
        import_loans(s, tmp_path / "x.json", actor="test", today=TODAY)
    path = tmp_path / "f.parquet"
    pq.write_table(pa.table({**{k: [v] for k, v in LOAN.items()}, "principal": [1.5]}), path)
    with db.session() as s, pytest.raises(InvalidInput, match="never floating point"):
        import_loans(s, path, actor="test", today=TODAY)


def test_given_schedule_is_used_and_checked(db, tmp_path):
    load_borrowers(db, tmp_path)
    schedule = [{"loan_no": "L1", "seq": "1", "due_on": "2026-02-05", "principal": "60000.00", "interest": "435.00"},
                {"loan_no": "L1", "seq": "2", "due_on": "2026-03-05", "principal": "60000.00", "interest": "217.50"}]
    load_loans(db, tmp_path, [loan(term="2")], schedules_path=write(tmp_path / "s.csv", schedule))
    with db.session() as s:
        due = s.execute(select(Instalment.interest_due_fen).order_by(Instalment.seq)).scalars().all()
        assert due == [43500, 21750] and check_ledger(s).ok
    bad = [dict(schedule[0], loan_no="L2"), dict(schedule[1], loan_no="L2", principal="59999.99")]
    with pytest.raises(ImportRejected) as exc:
        load_loans(db, tmp_path, [loan(loan_no="L2", term="2")], schedules_path=write(tmp_path / "s2.csv", bad))
    assert {e["rule"] for e in exc.value.errors} == {"schedule.principal_sum"}


def test_payments_import_allocates_like_the_api_and_is_idempotent(db, tmp_path):
    load_borrowers(db, tmp_path)
    load_loans(db, tmp_path, [loan(), loan(loan_no="L2", borrower_no="B2")])
    pays = [{"loan_no": "L1", "amount": "10,234.56", "received_on": "2026-02-04"},
            {"loan_no": "L1", "amount": "20000", "received_on": "2026-04-10"},
            {"loan_no": "L1", "amount": "0.01", "received_on": "2026-04-11"}]
    path = write(tmp_path / "p.csv", pays)
    with db.session() as s, s.begin():
        report = import_payments(s, path, actor="test", today=TODAY)
    assert report.imported == 3
    with db.session() as s, s.begin():  # the same file again posts nothing
        import_payments(s, path, actor="test", today=TODAY)
    with db.session() as s, s.begin():  # the same payments through the API's use case, on the twin loan
        twin = s.scalar(select(Loan.id).where(Loan.loan_no == "L2"))
        for i, p in enumerate(pays):
            post_payment(s, loan_id=twin, amount_fen=int(Decimal(p["amount"].replace(",", "")) * 100),
                         received_on=date.fromisoformat(p["received_on"]), idempotency_key=f"api-{i}",
                         actor="test", today=TODAY)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Payment)) == 6

        def allocations(loan_no):
            loan_id = s.scalar(select(Loan.id).where(Loan.loan_no == loan_no))
            return s.execute(select(Instalment.seq, PaymentAllocation.component, PaymentAllocation.amount_fen)
                             .join(Instalment, Instalment.id == PaymentAllocation.instalment_id)
                             .where(PaymentAllocation.loan_id == loan_id)
                             .order_by(PaymentAllocation.payment_id, PaymentAllocation.id)).all()

        assert allocations("L1") == allocations("L2") and allocations("L1")
        credits = s.execute(select(Loan.loan_no, Loan.credit_fen).order_by(Loan.loan_no)).all()
        assert credits[0][1] == credits[1][1]
        assert check_ledger(s).ok


def test_payment_rows_are_checked(db, tmp_path):
    load_borrowers(db, tmp_path)
    load_loans(db, tmp_path, [loan()])
    pays = [{"loan_no": "L1", "amount": "0", "received_on": "2026-02-04", "idempotency_key": "k"},
            {"loan_no": "L404", "amount": "1", "received_on": "2026-02-04", "idempotency_key": "k"},
            {"loan_no": "L1", "amount": "1", "received_on": "2025-12-31", "idempotency_key": "k3"},
            {"loan_no": "L1", "amount": "1", "received_on": "2026-07-01", "idempotency_key": "k4"}]
    with db.session() as s, pytest.raises(ImportRejected) as exc:
        import_payments(s, write(tmp_path / "p.csv", pays), actor="test", today=TODAY)
    assert {(e["row"], e["rule"]) for e in exc.value.errors} >= {
        (2, "amount.positive"), (3, "loan.exists"), (2, "idempotency_key.unique"),
        (4, "received_on.after_disbursement"), (5, "received_on.not_future")}


def test_reusing_an_idempotency_key_for_another_payment_is_a_conflict(db, tmp_path):
    load_borrowers(db, tmp_path)
    load_loans(db, tmp_path, [loan()])
    first = [{"loan_no": "L1", "amount": "100", "received_on": "2026-02-04", "idempotency_key": "k1"}]
    with db.session() as s, s.begin():
        import_payments(s, write(tmp_path / "p1.csv", first), actor="test", today=TODAY)
    with db.session() as s, pytest.raises(Conflict):
        import_payments(s, write(tmp_path / "p2.csv", [dict(first[0], amount="101")]), actor="test", today=TODAY)

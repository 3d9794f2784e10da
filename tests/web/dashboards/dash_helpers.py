"""A small book for the dashboards' tests: six loans of two products worked through three end-of-day runs across a
month boundary, a payment (a recovery), a complaint and a contact the guard refuses because of it."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from arrears.cases.contacts import request_contact
from arrears.cases.tables import Case
from arrears.complaints.service import file_complaint
from arrears.delinquency.service import run_date
from arrears.delinquency.snapshots import SnapshotStore
from arrears.loans.payments import post_payment
from support import add_borrower, add_loan, schedule

TODAY = date(2024, 3, 12)
DATES = (date(2024, 2, 20), date(2024, 3, 4), date(2024, 3, 12))
SH = ZoneInfo("Asia/Shanghai")


def build_book(db, store: SnapshotStore, cipher) -> dict:
    with db.session() as s:
        b = add_borrower(s, cipher=cipher)
        ids = {i: add_loan(s, b, f"L{i}", schedule(3, principal=300_000 + 10_000 * i),
                           product_code="consumer_loan" if i % 2 else "inclusive_loan").id for i in range(6)}
        s.commit()
        for i in (0, 1):
            post_payment(s, loan_id=ids[i], amount_fen=200_000, received_on=date(2024, 1, 30),
                         idempotency_key=f"p{i}", actor="t", today=TODAY)
        s.commit()
    run_date(db.factory, store, DATES[0], today=TODAY)
    with db.session() as s:
        post_payment(s, loan_id=ids[3], amount_fen=50_000, received_on=date(2024, 3, 8), idempotency_key="r3",
                     actor="t", today=TODAY)
        s.commit()
    for day in DATES[1:]:
        run_date(db.factory, store, day, today=TODAY)
    with db.session() as s:
        case = s.scalars(select(Case).where(Case.loan_id == ids[1], Case.status == "open")).one()
        file_complaint(s, cipher=cipher, borrower_id=case.borrower_id, category="harassment", channel="phone",
                       text="too many calls", filed_at=datetime(2024, 3, 10, 9, tzinfo=SH), actor="t",
                       case_id=case.id, loan_id=ids[1])
        s.commit()
        refused = request_contact(s, cipher=cipher, case_id=case.id, method="call", party="debtor", purpose="collect",
                                  at=datetime(2024, 3, 11, 10, tzinfo=SH), actor="t")
        s.commit()
        assert not refused.decision.allowed
    return ids


def table_values(html: str, table_id: str) -> list[list[str]]:
    """The data-value of each cell of a page's data table, row by row."""
    body = re.search(rf'<table id="{table_id}-table".*?<tbody>(.*?)</tbody>', html, re.DOTALL).group(1)
    return [re.findall(r'data-value="([^"]*)"', row) for row in re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL)
            if "data-value" in row]


def yuan(fen_text: str) -> Decimal:
    return Decimal(int(fen_text)) / 100

"""What is owed and why: amounts by component in yuan to the fen, days overdue, the schedule's paid / overdue /
due rows with Chinese dates, what happens next from the case's stage, rights and repayment channels; another
borrower's loan does not exist."""

from __future__ import annotations

import re

from sqlalchemy import select

from arrears.cases.tables import Case
from arrears.delinquency.tables import LoanDelinquency
from arrears.loans.payments import post_payment
from arrears.loans.schemas import loan_detail
from arrears.loans.tables import Instalment, Loan
from arrears.money import format_yuan
from conftest import TODAY


def _owed(portal, loan_id: int):
    with portal.db.session() as s:
        loan = s.get(Loan, loan_id)
        rows = s.scalars(select(Instalment).where(Instalment.loan_id == loan_id)).all()
        return loan_detail(loan, "B0001", rows, TODAY), s.get(LoanDelinquency, loan_id).dpd


def test_home_shows_each_loan_with_what_is_owed_rights_and_channels(portal):
    portal.sign_in()
    detail, dpd = _owed(portal, portal.ids["mine"])
    page = portal.get("/portal").text
    assert "您好，王小明" in page and "L1" in page and "L2" not in page
    assert f"当前未还合计 <strong>{format_yuan(detail.total.outstanding.fen)}</strong>" in page
    assert re.search(r"\d{1,3}(,\d{3})*\.\d{2}", page)  # thousands separators, to the fen
    assert f"已逾期 {dpd} 天" in page and dpd > 0
    for right in ("知情权", "协商权", "投诉权", "受尊重权"):
        assert right in page
    assert "银行转账" in page and "6222 0000 0000 0000 123" in page and "营业网点柜台" in page


def test_the_loan_page_breaks_the_debt_down_and_marks_each_instalment(portal):
    with portal.db.session() as s:  # the first instalment paid in full
        first = s.scalar(select(Instalment).where(Instalment.loan_id == portal.ids["mine"], Instalment.seq == 1))
        due = first.principal_due_fen + first.interest_due_fen + first.penalty_due_fen + first.fee_due_fen
        post_payment(s, loan_id=portal.ids["mine"], amount_fen=due + 5_000, received_on=TODAY,
                     idempotency_key="pay-1", actor="teller", today=TODAY)
        s.commit()
    portal.sign_in()
    detail, dpd = _owed(portal, portal.ids["mine"])
    page = portal.get(f"/portal/loans/{portal.ids['mine']}").text
    for component, name in (("principal", "本金"), ("interest", "利息"), ("penalty", "罚息")):
        assert name in page and format_yuan(detail.balances[component].outstanding.fen) in page
    assert f"{format_yuan(detail.total.outstanding.fen)} 元" in page and "逾期天数" in page and f"{dpd} 天" in page
    states = re.findall(r'<li class="(paid|overdue|due)">', page)
    expected = ["paid" if i.total.outstanding.fen <= 0 else "overdue" if i.due_on < TODAY else "due"
                for i in detail.schedule]
    assert states == expected and {"paid", "overdue", "due"} <= set(states)
    assert "2026年2月5日" in page  # Chinese dates
    with portal.db.session() as s:
        stage = s.scalar(select(Case.stage).where(Case.loan_id == portal.ids["mine"], Case.status == "open"))
    assert stage is not None and 'aria-current="step"' in page and "接下来会怎样" in page


def test_another_borrowers_loan_is_not_found(portal):
    portal.sign_in()
    r = portal.get(f"/portal/loans/{portal.ids['other']}")
    assert r.status_code == 404 and "李小红" not in r.text and "L2" not in r.text
    assert portal.get("/portal/loans/999999").status_code == 404


def test_the_english_page(portal):
    portal.sign_in()
    page = portal.get(f"/portal/loans/{portal.ids['mine']}?lang=en").text
    assert "What happens next" in page and "Your rights" in page and "Bank transfer" in page
    assert "overdue" in page and "Days overdue" in page

"""After end of day: cure inside grace, breach (waiver reinstated, collection stop lifted), one renegotiation,
then escalation to legal; completion closes the loan and issues the settlement certificate in Chinese."""

import io
from datetime import timedelta

import pypdf
import pytest
from agreement_helpers import (PLAN_DATE, PREPARER, TODAY, debt_of, make_plan, overdue_loan,
                               signed_and_countersigned)
from sqlalchemy import func, select
from support import CIPHER

from arrears.agreements import documents
from arrears.agreements.certificates import issue_certificates
from arrears.agreements.service import create_agreement
from arrears.agreements.policy import policy
from arrears.agreements.tables import Agreement
from arrears.audit.service import verify_events
from arrears.cases.service import move_stage
from arrears.cases.tables import Case
from arrears.delinquency.service import run_date
from arrears.errors import Conflict
from arrears.ledger.service import check_ledger
from arrears.loans.payments import post_payment
from arrears.loans.tables import Instalment, Loan


def _eod(db, store, day):
    run_date(db.factory, store, day, today=TODAY)


def _pay(s, loan_id, amount, on, key):
    post_payment(s, loan_id=loan_id, amount_fen=amount, received_on=on, idempotency_key=key, actor="t", today=TODAY)
    s.commit()


def _to_phone(s, loan_id):
    case = s.scalar(select(Case).where(Case.loan_id == loan_id, Case.status == "open"))
    path = ("preparation", "reminder", "phone")  # the strategy may have moved it on already
    for stage in path[path.index(case.stage) + 1:]:
        case = move_stage(s, case_id=case.id, to_stage=stage, actor="collector1", reason="worked",
                          expected_version=case.version, today=PLAN_DATE)
    s.commit()
    return case.id


def test_paying_inside_grace_cures_and_two_breaches_end_in_legal(db, store):
    clause = policy().default_clause
    with db.session() as s:
        bid, lid = overdue_loan(s, store, db.factory)
        debt = debt_of(s, lid)
        plan = make_plan(debt, lid)
        a = signed_and_countersigned(s, plan, lid, bid)
        s.commit()
        first, second = plan.schedule[0], plan.schedule[1]
        # First instalment paid late but inside the agreement's grace: no breach.
        _pay(s, lid, first.total, first.due_on + timedelta(days=clause.grace_days - 1), "p1")
    _eod(db, store, first.due_on + timedelta(days=clause.grace_days + 5))
    with db.session() as s:
        assert s.get(Agreement, a.id).status == "countersigned"
    # The second is never paid: missed after grace, breach once more than days_late late.
    _eod(db, store, second.due_on + timedelta(days=clause.days_late))
    with db.session() as s:
        assert s.get(Agreement, a.id).status == "countersigned"  # one missed, not yet days_late
    breach_day = second.due_on + timedelta(days=clause.days_late + 1)
    _eod(db, store, breach_day)
    with db.session() as s:
        a1 = s.get(Agreement, a.id)
        assert (a1.status, a1.escalation, a1.ended_on) == ("breached", "renegotiate", breach_day)
        assert not a1.stops_collection
        # The conditional penalty waiver is owed again, as a fixed amount due on the breach date.
        back = s.scalar(select(Instalment).where(Instalment.loan_id == lid, Instalment.due_on == breach_day))
        assert back.fee_due_fen == debt.penalty
        assert check_ledger(s).ok and not verify_events(s)[1]
        # Renegotiation: a second agreement on what is owed now.
        debt2 = debt_of(s, lid)
        assert debt2.total > debt.total - first.total - debt.penalty  # the waiver is owed again
        plan2 = make_plan(debt2, lid, as_of=breach_day, waive_penalty=False)
        case_id = _to_phone(s, lid)
        a2 = signed_and_countersigned(s, plan2, lid, bid, on=breach_day)
        s.commit()
        assert a2.renegotiation_no == 1 and check_ledger(s).ok
    legal_day = plan2.schedule[0].due_on + timedelta(days=clause.days_late + 1)
    _eod(db, store, legal_day)
    with db.session() as s:
        a2 = s.get(Agreement, a2.id)
        assert (a2.status, a2.escalation) == ("breached", "legal")
        # Countersigning closed the case (agreement in force); the breach re-opened it at phone and moved it on.
        case = s.get(Case, case_id)
        assert (case.status, case.stage, case.close_reason) == ("open", "legal", None)
        assert check_ledger(s).ok and not verify_events(s)[1]
        # No third agreement: the limit is reached.
        with pytest.raises(Conflict) as err:
            create_agreement(s, plan=make_plan(debt_of(s, lid), lid, as_of=legal_day), loan_id=lid,
                             prepared_by=PREPARER, cipher=CIPHER)
        assert err.value.rule == "agreement.renegotiation_limit"


def test_a_breach_without_a_case_ready_for_legal_is_marked_pending(db, store):
    with db.session() as s:
        bid, lid = overdue_loan(s, store, db.factory)
        plan = make_plan(debt_of(s, lid), lid, n=2)
        a = signed_and_countersigned(s, plan, lid, bid)
        a.renegotiation_no = policy().renegotiation.max_agreements_per_loan - 1  # the last one allowed
        s.commit()
    _eod(db, store, plan.schedule[0].due_on + timedelta(days=policy().default_clause.days_late + 1))
    with db.session() as s:
        assert s.get(Agreement, a.id).escalation == "legal_pending"


def test_completion_closes_the_loan_and_issues_a_chinese_certificate(db, store):
    with db.session() as s:
        bid, lid = overdue_loan(s, store, db.factory, name="王小明")
        plan = make_plan(debt_of(s, lid), lid, n=3, added_interest=900)
        a = signed_and_countersigned(s, plan, lid, bid)
        s.commit()
        for i in plan.schedule:
            _pay(s, lid, i.total, i.due_on, f"pay-{i.seq}")
    _eod(db, store, plan.schedule[-1].due_on + timedelta(days=1))
    with db.session() as s:
        done = s.get(Agreement, a.id)
        assert done.status == "completed" and s.get(Loan, lid).status == "closed"
        assert issue_certificates(s, cipher=CIPHER) == 1
        s.commit()
        pdf = documents.get(s, s.get(Agreement, a.id).certificate_sha256)
        text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
        assert "结清证明" in text and "王小明" in text and "全部结清" in text
        assert f"{plan.total_to_pay // 100:,}" in text  # the total paid under the agreement, in yuan
        assert issue_certificates(s, cipher=CIPHER) == 0  # once only
        assert check_ledger(s).ok and not verify_events(s)[1]
        assert s.scalar(select(func.count()).select_from(Agreement).where(Agreement.status == "completed")) == 1

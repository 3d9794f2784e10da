"""In-flight stories the demo opens with, so every desk of the core process has work on day one. Seeded right
after the first end of day through the use cases the pages and the API call (never raw rows), so the guard,
the authority limits, maker-checker, the hash-chained events and the agreements' tamper evidence are real:

- hardship applications filed by borrowers, waiting for verification (one on the borrower sign-in's loan);
- a negotiation in its second round: the borrower's proposal and the institution's counter-offer, open;
- an offer beyond the negotiator's authority, waiting for a supervisor's approval;
- an agreement prepared by the negotiator and signed by the borrower, waiting for countersignature;
- an agreement in force (countersigned), its plan replacing the schedule;
- a litigation case taken to law, filed and judged, with its deadlines; a write-off batch proposed by legal;
- an open complaint recorded by phone, with its reply (SLA) date.

Each story takes its own overdue loan of a borrower with one loan (31 to 359 days past due, so none is in the
write-off batch), drawn by a seeded RNG; negotiations prefer the portfolio's hardship borrowers; a portfolio too
small for all the stories gets those it has loans for. The process is compressed into the demo's business date. Borrowers act from their own accounts, made as a first sign-in with a
one-time code makes them (a random password); the borrower reads the signing code from the SMS in the outbox."""

from __future__ import annotations

import random
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from arrears.agreements import service as agreements
from arrears.agreements import signing
from arrears.agreements.policy import policy as agreement_policy
from arrears.auth.model import Principal
from arrears.auth.service import create_user, principal_of
from arrears.auth.tables import User
from arrears.cases.service import move_stage
from arrears.cases.tables import Case
from arrears.complaints.service import file_complaint
from arrears.contact.tables import OutboxMessage
from arrears.db.engine import unit_of_work
from arrears.delinquency.tables import LoanDelinquency
from arrears.errors import InvalidInput
from arrears.legal import service as legal
from arrears.legal.model import Award, binding_cap
from arrears.legal.policy import policy as legal_policy
from arrears.loans.tables import Borrower, Loan
from arrears.negotiation import hardship, rounds
from arrears.negotiation.accepted import accepted_offer
from arrears.negotiation.affordability import Statement
from arrears.negotiation.config import policy as negotiation_policy
from arrears.negotiation.debt import load_context
from arrears.negotiation.limits import max_periods
from arrears.negotiation.plan import Amounts
from arrears.negotiation.proposal import evaluate_proposal
from arrears.negotiation.tables import HardshipApplication, Negotiation, Offer
from arrears.negotiation.terms import Terms
from arrears.privacy import PersonalDataCipher
from arrears.products.catalog import catalog
from arrears.writeoff.service import propose_write_off

STAFF = {"negotiator": "negotiator", "supervisor": "supervisor", "legal": "legal", "compliance": "compliance",
         "collector": "collector"}  # role → the demo's sign-in (demo.build.STAFF)
WHY = {"illness": "住院治疗三个月，收入明显减少", "job_loss": "公司裁员，正在找工作，靠积蓄生活",
       "business_failure": "店铺经营亏损，已暂停营业", "other": "家庭变故，暂时无力按原计划还款"}
SHANGHAI_MORNING = time(2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai


@dataclass
class Stories:
    """What was seeded (ids), for the tests and the summary."""

    applications: list[int] = field(default_factory=list)  # submitted, waiting for verification
    second_round: int | None = None  # negotiation id (None: the portfolio had no loan left for the story)
    pending_offer: int | None = None  # offer id
    signed: int | None = None  # agreement id, waiting for countersignature
    in_force: int | None = None  # agreement id, countersigned
    legal_case: int | None = None
    complaint: int | None = None
    writeoff_batch: int | None = None  # None also when no loan meets the write-off rules


@dataclass(frozen=True)
class _Loan:
    id: int
    loan_no: str
    borrower_id: int
    kind: str  # hardship kind for an application


def seed_stories(factory: sessionmaker[Session], cipher: PersonalDataCipher, *, business_date: date, seed: int,
                 behaviours: dict[str, str], borrower_login: str) -> Stories:
    """Seeds the stories, one transaction each; a portfolio too small for all of them gets those it has loans
    for, in the order of ``ORDER``."""
    rng = random.Random(seed)
    out = Stories()
    with unit_of_work(factory) as s:
        own, picks = _choose(s, rng, behaviours, borrower_login)
    with unit_of_work(factory) as s:
        out.applications.append(_apply(s, cipher, rng, own, business_date).id)
    for story, loan in zip(ORDER, picks, strict=False):
        with unit_of_work(factory) as s:
            if story == "applications":
                out.applications.append(_apply(s, cipher, rng, loan, business_date).id)
            else:
                setattr(out, story, SEED[story](s, cipher, rng, loan, business_date))
    with unit_of_work(factory) as s:
        out.writeoff_batch = _write_off(s, business_date)
    return out


def _choose(s: Session, rng: random.Random, behaviours: dict[str, str], login: str) -> tuple[_Loan, list[_Loan]]:
    """The sign-in borrower's loan, then a loan for each story of ``ORDER``: the negotiations and applications
    from hardship borrowers first, legal and the complaint from the other end."""
    me = s.scalar(select(User.borrower_id).where(User.username == login))
    own_no, own_id = s.execute(select(Loan.loan_no, Loan.id).where(Loan.borrower_id == me).order_by(Loan.id)).first()
    one_loan = select(Loan.borrower_id).group_by(Loan.borrower_id).having(func.count() == 1)
    rows = s.execute(select(Loan.id, Loan.loan_no, Loan.borrower_id)
                     .join(LoanDelinquency, LoanDelinquency.loan_id == Loan.id)
                     .join(Case, (Case.loan_id == Loan.id) & (Case.status == "open"))
                     .where(Loan.status == "active", LoanDelinquency.dpd.between(31, 359),
                            Loan.borrower_id.in_(one_loan), Loan.borrower_id != me).order_by(Loan.id)).all()
    kind = {no: b.split(":")[1] for no, b in behaviours.items() if b.startswith("hardship:")}
    struck = [_Loan(i, no, b, kind[no]) for i, no, b in rows if no in kind]
    others = [_Loan(i, no, b, rng.choice(("job_loss", "business_failure", "other"))) for i, no, b in rows
              if no not in kind]
    rng.shuffle(struck)
    rng.shuffle(others)
    pool = struck + others
    front = len(ORDER) - 2
    own = _Loan(own_id, own_no, me, kind.get(own_no, "other"))
    return own, pool[:front] + pool[front:][-2:]


def _borrower(s: Session, cipher: PersonalDataCipher, borrower_id: int) -> Principal:
    """The borrower's account, as a first sign-in with a one-time code creates it (auth.one_time)."""
    user = s.scalar(select(User).where(User.borrower_id == borrower_id, User.role == "borrower"))
    if user is None:
        b = s.get(Borrower, borrower_id)
        user = create_user(s, username=b.borrower_no.lower(), display_name=cipher.decrypt(b.name_enc),
                           password=secrets.token_urlsafe(32), role="borrower", borrower_id=b.id, actor="demo")
    return principal_of(s, user.username)


def _apply(s: Session, cipher: PersonalDataCipher, rng: random.Random, loan: _Loan,
           today: date) -> HardshipApplication:
    """The borrower files a hardship application with a household statement (fen a month)."""
    wages = rng.randrange(300_000, 900_000, 10_000)
    expenses = {"housing": wages * rng.randint(18, 28) // 100, "food": wages * rng.randint(15, 22) // 100,
                "utilities": wages * 3 // 100, "transport": wages * 4 // 100}
    if loan.kind == "illness":
        expenses["medical"] = wages * rng.randint(10, 25) // 100
    region = s.scalar(select(Borrower.region_code).where(Borrower.id == loan.borrower_id)) or ""
    statement = Statement(incomes={"wages": wages}, expenses=expenses, dependants=rng.randint(0, 2),
                          region_code=region, assets={"deposit": rng.randrange(0, 1_000_000, 10_000)})
    return hardship.file_application(s, cipher, _borrower(s, cipher, loan.borrower_id), loan_id=loan.id,
                                     statement=statement, hardship_kind=loan.kind,
                                     hardship_since=today - timedelta(days=rng.randint(60, 180)),
                                     description=WHY[loan.kind], consent=True, today=today)


def _negotiation(s: Session, cipher: PersonalDataCipher, rng: random.Random, loan: _Loan,
                 today: date) -> tuple[Principal, Negotiation]:
    """Application filed, verified by the negotiator, who opens a negotiation on it."""
    app = _apply(s, cipher, rng, loan, today)
    officer = principal_of(s, STAFF["negotiator"])
    hardship.review_application(s, cipher, officer, application_id=app.id, decision="verified",
                                note="收入证明与病历/离职证明已核对", version=app.version)
    return officer, rounds.open_negotiation(s, officer, loan_id=loan.id, today=today, application_id=app.id)


def _offer(s: Session, who: Principal, neg_id: int, terms: Terms, today: date, counter_to: int | None = None) -> Offer:
    return rounds.make_offer(s, who, negotiation_id=neg_id, terms=terms, today=today, counter_to_id=counter_to,
                             expires_in_hours=negotiation_policy().offers.max_expiry_hours)


def _second_round(s: Session, cipher: PersonalDataCipher, rng: random.Random, loan: _Loan, today: date) -> int:
    """The borrower proposes a longer plan with interest and penalty waived; the negotiator counters with the
    nearest plan within their authority (``evaluate_proposal``'s counter-offer)."""
    officer, neg = _negotiation(s, cipher, rng, loan, today)
    ctx = load_context(s, loan.id, today)
    asked = Terms(max_periods(ctx), ctx.contract_rate, waiver=Amounts(interest=ctx.debt.interest,
                                                                      penalty=ctx.debt.penalty))
    theirs = _offer(s, _borrower(s, cipher, loan.borrower_id), neg.id, asked, today)
    verdict = evaluate_proposal(ctx, asked)
    counter = verdict.counter_offer.terms if verdict.counter_offer else Terms(min(24, max_periods(ctx)),
                                                                              ctx.contract_rate)
    _offer(s, officer, neg.id, counter, today, counter_to=theirs.id)
    return neg.id


def _pending_approval(s: Session, cipher: PersonalDataCipher, rng: random.Random, loan: _Loan, today: date) -> int:
    """An offer that reduces principal: beyond a negotiator's authority, it waits for a supervisor."""
    officer, neg = _negotiation(s, cipher, rng, loan, today)
    ctx = load_context(s, loan.id, today)
    cut = max(100, min(30_000, ctx.debt.principal // 10) // 100 * 100)  # whole yuan, at most 300
    offer = _offer(s, officer, neg.id, Terms(min(24, max_periods(ctx)), ctx.contract_rate,
                                              waiver=Amounts(principal=cut, penalty=ctx.debt.penalty)), today)
    assert offer.status == "pending_approval", offer.status
    return offer.id


def _signed(s: Session, cipher: PersonalDataCipher, rng: random.Random, loan: _Loan, today: date) -> int:
    """A plan within the negotiator's authority (12 months, the penalty waived on condition), accepted by the
    borrower; the negotiator prepares the agreement and sends it; the borrower signs with the SMS code."""
    officer, neg = _negotiation(s, cipher, rng, loan, today)
    ctx = load_context(s, loan.id, today)
    terms = Terms(min(12, max_periods(ctx)), ctx.contract_rate, waiver=Amounts(penalty=ctx.debt.penalty))
    rounds.accept(s, _borrower(s, cipher, loan.borrower_id), _offer(s, officer, neg.id, terms, today).id)
    a = agreements.create_agreement(s, plan=accepted_offer(s, neg.id).plan, loan_id=loan.id,
                                    prepared_by=officer.actor, cipher=cipher)
    sent = signing.send_for_signature(s, agreement_id=a.id, actor=officer.actor, cipher=cipher)
    sms = cipher.decrypt(s.get(OutboxMessage, sent.message_id).body_enc)
    code = re.search(rf"\d{{{agreement_policy().signing.code_digits}}}", sms).group(0)
    outcome = signing.borrower_sign(s, agreement_id=a.id, borrower_id=loan.borrower_id, code=code, consent=True,
                                    cipher=cipher)
    assert outcome.signed, outcome
    return a.id


def _to_law(s: Session, _cipher: PersonalDataCipher, _rng: random.Random, loan: _Loan, today: date) -> int:
    """Reminder and phone without result; legal takes the case to law, files the claim (the whole debt) and
    records the judgment within the legal cap: the appeal and enforcement deadlines follow."""
    case = s.scalar(select(Case).where(Case.loan_id == loan.id, Case.status == "open"))
    for to, why in {"preparation": (("reminder", "逾期事实已核实"), ("phone", "提醒后未还款")),
                    "reminder": (("phone", "提醒后未还款"),)}.get(case.stage, ()):
        case = move_stage(s, case_id=case.id, to_stage=to, actor=STAFF["collector"], reason=why,
                          expected_version=case.version, today=today)
    officer = principal_of(s, STAFF["legal"])
    lc = legal.open_legal_case(s, case_id=case.id, expected_case_version=case.version, actor=officer.actor,
                               reason="多次联系无果，拒不还款", today=today, officer_user_id=officer.user_id)
    debt = load_context(s, loan.id, today).debt
    number = f"（{today.year}）示0101民初{10_000 + loan.id}号"  # the demo's made-up court
    lc = legal.file_claim(s, legal_case_id=lc.id, expected_version=lc.version, court="示例市示例区人民法院",
                          court_case_no=number, firm="示例律师事务所", lawyer="陈律师", filed_on=today,
                          claim_fen=debt.total, actor=officer.actor)
    loan_row = s.get(Loan, loan.id)
    products = catalog()
    cap = binding_cap(principal_fen=debt.principal, disbursed_on=loan_row.disbursed_on, interest_until=today,
                      product=products.product(loan_row.product_code), legal=products.legal,
                      policy=legal_policy()).limit_fen
    interest = min(debt.interest, cap)
    award = Award(debt.principal, interest, min(debt.penalty, cap - interest), 0, 0)
    return legal.record_judgment(s, legal_case_id=lc.id, expected_version=lc.version, judgment_no=number,
                                 judgment_on=today, served_on=today, award=award, interest_until=today,
                                 actor=officer.actor).id


def _in_force(s: Session, cipher: PersonalDataCipher, rng: random.Random, loan: _Loan, today: date) -> int:
    """As ``_signed``, then the supervisor countersigns: the plan is executed and the case closes."""
    a = agreements.get_agreement(s, _signed(s, cipher, rng, loan, today))
    return agreements.countersign(s, agreement_id=a.id, officer=STAFF["supervisor"], business_date=today,
                                  expected_version=a.version).id


def _write_off(s: Session, today: date) -> int | None:
    """Legal proposes every loan the write-off rules select (writeoff/policy.yaml), for the supervisor."""
    try:
        return propose_write_off(s, principal=principal_of(s, STAFF["legal"]), today=today).id
    except InvalidInput as exc:
        if exc.rule != "writeoff.nothing_selected":
            raise
        return None


def _complaint(s: Session, cipher: PersonalDataCipher, _rng: random.Random, loan: _Loan, today: date) -> int:
    """The borrower complains by phone about the calls; compliance records it (contact is frozen meanwhile)."""
    officer = principal_of(s, STAFF["compliance"])
    case_id = s.scalar(select(Case.id).where(Case.loan_id == loan.id, Case.status == "open"))
    return file_complaint(s, cipher=cipher, borrower_id=loan.borrower_id, category="harassment", channel="phone",
                          text="一天之内接到多次催收电话，影响正常工作", filed_at=datetime.combine(today, SHANGHAI_MORNING),
                          actor=officer.actor, filed_by_user_id=officer.user_id, case_id=case_id, loan_id=loan.id).id


ORDER = ("second_round", "pending_offer", "signed", "in_force", "applications", "applications", "legal_case",
         "complaint")  # what each chosen loan is for; legal and the complaint take the last two
SEED = {"second_round": _second_round, "pending_offer": _pending_approval, "signed": _signed, "in_force": _in_force,
        "legal_case": _to_law, "complaint": _complaint}

"""What the negotiation desk shows, gathered from the services: the application and its affordability, the
ranked options, the calculator's verdict, the rounds and the agreement. Reads only; actions are in desk.py."""

from __future__ import annotations

from collections import OrderedDict
from datetime import date
from decimal import Decimal
from threading import Lock

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.agreements import service as agreements
from arrears.agreements.tables import Agreement
from arrears.auth.model import Permission, Principal
from arrears.db.base import utcnow
from arrears.errors import InvalidInput
from arrears.loans.schedules import due_date
from arrears.loans.schemas import borrower_out
from arrears.loans.tables import Borrower, Loan
from arrears.negotiation import hardship, rounds
from arrears.negotiation.config import policy
from arrears.negotiation.debt import load_context
from arrears.negotiation.limits import max_periods, max_rate
from arrears.negotiation.options import generate_options
from arrears.negotiation.plan import COMPONENTS
from arrears.negotiation.proposal import evaluate_proposal
from arrears.negotiation.serial import plan_from_dict
from arrears.negotiation.tables import HardshipApplication, HardshipEvidence, Negotiation, Offer
from arrears.privacy import PersonalDataCipher
from arrears.products.catalog import catalog
from arrears.web.desk import calculator, chart
from arrears.web.desk.common import completion

SIDE_BY_SIDE = 4  # the best options shown as cards; the rest in one table
_RANKED: OrderedDict = OrderedDict()  # what generate_options answered, by everything it depends on
_RANKED_MAX = 256
_LOCK = Lock()


def ranked_options(request: Request, ctx, assessment) -> list:
    """``generate_options`` (the service, unchanged) remembered for the pages: ranking ~50 candidates is most of
    the desk's time, and the answer only changes with the debt, the date, the affordability figures or the
    completion model, which are all in the key (policy changes need a restart, as for the API)."""
    model = completion(request, ctx)
    key = (ctx.loan_id, ctx.as_of, ctx.debt, ctx.dpd, ctx.remaining_periods, ctx.contract_rate, ctx.product.code,
           None if assessment is None else (assessment.income_fen, assessment.assessed_expenses_fen,
                                            assessment.disposable_fen, assessment.sustainable_payment_fen,
                                            assessment.liquid_assets_fen), type(model).__name__,
           getattr(getattr(model, "trained", None), "version", None))
    with _LOCK:
        if key in _RANKED:
            _RANKED.move_to_end(key)
            return _RANKED[key]
    options = generate_options(ctx, assessment, model=model)
    with _LOCK:
        _RANKED[key] = options
        while len(_RANKED) > _RANKED_MAX:
            _RANKED.popitem(last=False)
    return options


def calculator_view(request: Request, ctx, assessment, params, errors: dict | None = None) -> dict:
    """The calculator's values (as typed), the field errors (form first, then the services' limits) and,
    when the terms could be built, the plan valued like an option with its verdict."""
    base = calculator.defaults(ctx.contract_rate, min(12, max_periods(ctx)))
    values = calculator.read(params, base)
    terms, form_errors = calculator.parse(values)
    verdict = None
    if terms is not None:
        verdict = evaluate_proposal(ctx, terms, assessment, model=completion(request, ctx))
        form_errors = calculator.limit_errors(verdict.violations)
    all_errors = {**form_errors, **(errors or {})}
    option = verdict.option if verdict else None
    pol = policy()
    return {"fields": values, "errors": all_errors, "verdict": verdict, "option": option,
            "chart": chart.of_plan(option.plan) if option else None,
            "waived_share": Decimal(option.waived_fen) / ctx.debt.total if option and ctx.debt.total else Decimal(0),
            "limits": {"max_periods": max_periods(ctx), "max_rate": max_rate(ctx),
                       "max_holiday": pol.options.max_holiday_months, "debt": ctx.debt},
            # The first payment date chosen as a date: a payment holiday of h months moves it h months on
            # (terms.build_plan: one month after the plan date, after any holiday).
            "first_dates": [(str(h), due_date(ctx.as_of, 2 + h)) for h in range(pol.options.max_holiday_months + 1)],
            "components": COMPONENTS, "kinds": calculator.KINDS}


def desk_view(request: Request, session: Session, cipher: PersonalDataCipher, today: date, me: Principal,
              neg: Negotiation, params, with_options: bool = True, **extra) -> dict:
    loan = session.get(Loan, neg.loan_id)
    borrower = session.get(Borrower, neg.borrower_id)
    app, assessment = hardship.latest_assessment(session, cipher, loan.id, neg.application_id)
    statement, description, evidence = None, "", []
    if app is not None:
        statement, description = hardship.statement_of(app, cipher)
        evidence = session.scalars(select(HardshipEvidence).where(HardshipEvidence.application_id == app.id)
                                   .order_by(HardshipEvidence.id)).all()
    try:
        ctx = load_context(session, loan.id, today)
    except InvalidInput:  # nothing left to negotiate (paid or restructured): no options, no calculator
        ctx = None
    options, calc = [], None
    if ctx is not None and neg.status == "open":  # once agreed or closed the plan is settled: no options
        options = ranked_options(request, ctx, assessment) if with_options else []
        calc = calculator_view(request, ctx, assessment, params, extra.pop("calc_errors", None))
    now = utcnow()
    offers = [(o, rounds.effective_status(o, now), plan_from_dict(o.plan))
              for o in session.scalars(select(Offer).where(Offer.negotiation_id == neg.id).order_by(Offer.seq))]
    return {
        "neg": neg, "loan": loan, "product": catalog().product(loan.product_code),
        "borrower": borrower_out(borrower, cipher, unmasked=me.sees_pii_of(borrower.id)),
        "app": app, "statement": statement, "description": description, "evidence": evidence,
        "assessment": assessment, "ctx": ctx,
        "top": [(o, chart.of_plan(o.plan)) for o in options[:SIDE_BY_SIDE]], "rest": options[SIDE_BY_SIDE:],
        "calc": calc, "offers": offers, "agreement": _agreement(session, neg, offers),
        "agreement_number": agreements.number, "approval": policy().approval,
        "may": {"verify": me.can(Permission.hardship_verify), "offer": me.can(Permission.negotiations_propose),
                "prepare": me.can(Permission.agreements_prepare)},
        "today": today, **extra,
    }


def _agreement(session: Session, neg: Negotiation, offers: list) -> Agreement | None:
    """The agreement prepared from this negotiation's accepted offer: the loan's newest one since it was
    accepted (a loan has at most one live agreement)."""
    accepted = next((o for o, _, _ in offers if o.id == neg.accepted_offer_id), None)
    if accepted is None or accepted.decided_at is None:
        return None
    return session.scalars(select(Agreement).where(Agreement.loan_id == neg.loan_id,
                                                   Agreement.created_at >= accepted.decided_at)
                           .order_by(Agreement.id.desc()).limit(1)).first()


def application_of(session: Session, neg: Negotiation) -> HardshipApplication | None:
    return session.get(HardshipApplication, neg.application_id) if neg.application_id else None

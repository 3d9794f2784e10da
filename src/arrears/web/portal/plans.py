"""Plans: the institution's open offers side by side, the borrower's own proposal judged at once
(``negotiation.proposal``: acceptable / needs approval / not allowed, with the nearest counter-offer), sending it
as the borrower's offer and accepting an offer (``negotiation.rounds``) — the calls the negotiation API makes
for a borrower principal."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from arrears.db.base import utcnow
from arrears.money import MoneyError, yuan_to_fen
from arrears.negotiation import hardship, rounds
from arrears.negotiation.completion import completion_model
from arrears.negotiation.config import policy
from arrears.negotiation.debt import load_context
from arrears.negotiation.limits import max_periods, max_rate
from arrears.negotiation.options import Option
from arrears.negotiation.plan import COMPONENTS, Amounts
from arrears.negotiation.proposal import evaluate_proposal
from arrears.negotiation.tables import Negotiation, Offer
from arrears.negotiation.terms import Terms
from arrears.scores.registry import models_dir
from arrears.web.deps import CipherDep, SessionDep, Today
from arrears.web.portal.common import attempt, borrower, not_found, see_other
from arrears.web.portal.owed import borrower_loan, own_loan
from arrears.web.render import render

router = APIRouter(include_in_schema=False)
RATE_CHOICES = {"keep": Decimal(1), "half": Decimal("0.5"), "none": Decimal(0)}  # share of the highest rate allowed


@dataclass(frozen=True)
class Card:
    """One plan as the borrower compares it."""

    monthly_min: int
    monthly_max: int
    periods: int
    holiday_months: int
    waived: int
    total_to_pay: int
    annual_rate: Decimal
    schedule: list[tuple[int, date, int]]  # seq, due on, amount
    terms: dict

    @property
    def regular(self) -> int | None:
        """The one amount every instalment but the last pays (the last takes the rounding), else None."""
        amounts = {a for _, _, a in self.schedule[:-1]}
        return amounts.pop() if len(amounts) == 1 else None

    @property
    def last(self) -> int:
        return self.schedule[-1][2] if self.schedule else 0


def offer_card(o: Offer) -> Card:
    rows = [(int(r["seq"]), date.fromisoformat(r["due_on"]), sum(int(r.get(c, 0)) for c in COMPONENTS))
            for r in o.plan["schedule"]]
    amounts = [a for _, _, a in rows] or [0]
    return Card(min(amounts), max(amounts), len(rows), int(o.terms.get("holiday_months", 0)), o.waived_fen,
                o.total_to_pay_fen, Decimal(o.plan["annual_rate"]), rows, o.terms)


def option_card(o: Option) -> Card:
    rows = [(i.seq, i.due_on, i.total) for i in o.plan.schedule]
    amounts = [a for _, _, a in rows] or [0]
    return Card(min(amounts), max(amounts), len(rows), o.terms.holiday_months, o.waived_fen, o.total_to_pay_fen,
                o.plan.annual_rate, rows, o.terms.to_dict())


def _model(request: Request, ctx):
    """The completion model configuration chooses, as the negotiation API does."""
    return completion_model(policy().completion, models_dir(request.app.state.settings.data_dir), ctx.product.code)


def _page(request: Request, session, me, loan, today: date, status: int = 200, **extra) -> Response:
    negotiation = session.scalar(select(Negotiation).where(Negotiation.loan_id == loan.id)
                                 .order_by(Negotiation.id.desc()).limit(1))
    offers, mine, accepted = [], [], None
    if negotiation is not None:
        now = utcnow()
        for o in session.scalars(select(Offer).where(Offer.negotiation_id == negotiation.id).order_by(Offer.seq)):
            state = rounds.effective_status(o, now)
            if o.party == "institution" and state == "open":
                offers.append((o, offer_card(o)))
            elif o.party == "borrower" and state in rounds.LIVE:
                mine.append((o, offer_card(o), state))
            if state == "accepted":
                accepted = (o, offer_card(o))
    ctx = load_context(session, loan.id, today)
    values = extra.pop("values", None) or {"periods": "12", "holiday_months": "0", "rate": "keep"}
    return render(request, "portal/plans.html", me, status=status, loan=loan, negotiation=negotiation,
                  offers=offers, mine=mine, accepted=accepted, debt=ctx.debt, max_periods=max_periods(ctx),
                  max_holiday=policy().options.max_holiday_months, values=values,
                  errors=extra.pop("errors", {}), **extra)


@router.get("/portal/loans/{loan_id}/plans", response_class=HTMLResponse)
def plans(loan_id: int, request: Request, session: SessionDep, today: Today) -> Response:
    found = borrower_loan(request, session, loan_id)
    if isinstance(found, Response):
        return found
    me, loan = found
    return _page(request, session, me, loan, today)


@router.post("/portal/loans/{loan_id}/propose", response_class=HTMLResponse)
def propose(loan_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
            periods: Annotated[str, Form()] = "", holiday_months: Annotated[str, Form()] = "0",
            rate: Annotated[str, Form()] = "keep", waive_penalty: Annotated[str, Form()] = "",
            waive_interest: Annotated[str, Form()] = "") -> Response:
    found = borrower_loan(request, session, loan_id)
    if isinstance(found, Response):
        return found
    me, loan = found
    values = {"periods": periods, "holiday_months": holiday_months, "rate": rate, "waive_penalty": waive_penalty,
              "waive_interest": waive_interest}
    errors: dict[str, str] = {}
    for name in ("periods", "holiday_months"):
        if not values[name].strip().isdigit():
            errors[name] = "whole_number"
    waiver = {}
    for name, component in (("waive_penalty", "penalty"), ("waive_interest", "interest")):
        try:
            waiver[component] = yuan_to_fen(values[name].strip()) if values[name].strip() else 0
        except MoneyError:
            errors[name] = "amount_format"
    if rate not in RATE_CHOICES:
        errors["rate"] = "required"
    if errors:
        return _page(request, session, me, loan, today, 400, values=values, errors=errors)
    ctx = load_context(session, loan.id, today)
    terms = Terms(int(periods), max_rate(ctx) * RATE_CHOICES[rate], int(holiday_months), waiver=Amounts(**waiver))
    _, assessment = hardship.latest_assessment(session, cipher, loan.id)
    verdict = evaluate_proposal(ctx, terms, assessment, model=_model(request, ctx))
    return _page(request, session, me, loan, today, values=values, verdict=verdict,
                 proposal=option_card(verdict.option) if verdict.option else None,
                 counter=option_card(verdict.counter_offer) if verdict.counter_offer else None)


@router.post("/portal/loans/{loan_id}/offers", response_class=HTMLResponse)
def send_offer(loan_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
               terms: Annotated[str, Form()] = "") -> Response:
    """Sends the judged proposal (or the suggested counter-offer) as the borrower's own offer, opening the
    loan's negotiation first if none is open."""
    found = borrower_loan(request, session, loan_id)
    if isinstance(found, Response):
        return found
    me, loan = found
    try:
        chosen = Terms.from_dict(_parse_terms(terms))
    except (ValueError, KeyError, TypeError, ArithmeticError):
        return _page(request, session, me, loan, today, 400, errors={"send": "terms_invalid"})
    with attempt(session) as errors:
        neg = session.scalar(select(Negotiation).where(Negotiation.loan_id == loan.id, Negotiation.status == "open"))
        if neg is None:
            app, _ = hardship.latest_assessment(session, cipher, loan.id)
            neg = rounds.open_negotiation(session, me, loan_id=loan.id, today=today,
                                          application_id=app.id if app else None)
        rounds.make_offer(session, me, negotiation_id=neg.id, terms=chosen, today=today)
    if errors:
        return _page(request, session, me, loan, today, 409, errors={"send": next(iter(errors.values()))})
    return see_other(f"/portal/loans/{loan.id}/plans#mine")


def _parse_terms(text: str) -> dict:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise TypeError("terms must be an object")
    return data


@router.post("/portal/offers/{offer_id}/accept", response_class=HTMLResponse)
def accept(offer_id: int, request: Request, session: SessionDep, today: Today) -> Response:
    me = borrower(request, session)
    if isinstance(me, Response):
        return me
    offer = session.get(Offer, offer_id)
    if offer is None or offer.borrower_id != me.borrower_id:
        return not_found(request, me)
    loan = own_loan(session, me, offer.loan_id)
    with attempt(session) as errors:
        rounds.accept(session, me, offer.id)
    if errors:
        return _page(request, session, me, loan, today, 409, errors={"send": next(iter(errors.values()))})
    return see_other(f"/portal/loans/{loan.id}/plans#accepted")

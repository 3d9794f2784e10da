"""Plan terms and the one builder that turns terms into a ``Plan`` (pure).

Generated options, a borrower's own proposal and offers all go through ``build_plan``, so every plan is
made, checked and valued the same way. The rules:

- the waiver comes off the debt first (per component); what is left is restated as the new schedule;
- a settlement is one payment of what is left, ``settlement_days`` after the plan date, with no new interest;
- otherwise the principal left is amortised over ``periods`` monthly instalments at ``annual_rate`` (等额本息 on
  the 30/360 basis, ``loans.schedules.annuity_factor``; the last instalment takes the rounding rest); the other
  components left (overdue interest, penalty, fees, costs) are spread evenly over the instalments without
  interest (arrears are not capitalised);
- a payment holiday of ``h`` months puts the first due date ``h`` months later; interest accrues on the
  principal meanwhile (simple, ``P·rate·h/12``) and is spread like the arrears;
- a step-up plan pays, in its first ``periods // 2`` instalments, interest plus ``step_up_share`` of the level
  principal ``P/periods``, then amortises what is left over the remaining instalments.

Every amount is rounded once with the product's mode through ``round_fen`` (via ``round_ratio``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Context, Decimal
from functools import lru_cache

from arrears.loans.schedules import annuity_factor, decimal_ratio, due_date
from arrears.money import round_fen
from arrears.negotiation.config import Options
from arrears.negotiation.plan import COMPONENTS, Amounts, Plan, PlanInstalment
from arrears.products.model import LegalLimits, Product

SPREAD = ("interest", "penalty", "fee", "cost")
# Quotients of plan figures: numerators below 10^40 and denominators below 10^22 (fen × annuity factor at
# 20 decimals). At 60 significant digits the quotient's error is far below 1/(2·denominator), its least
# distance from a rounding boundary that it does not hit exactly, so rounding it equals rounding the exact
# ratio — ``loans.schedules.round_ratio`` without a new context per call (this path is timed).
_EXACT = Context(prec=60)


def round_ratio(numerator: int, denominator: int, mode: str) -> int:
    return round_fen(_EXACT.divide(Decimal(numerator), Decimal(denominator)), mode)


@lru_cache(maxsize=4096)
def _due(first: date, seq: int) -> date:
    return due_date(first, seq)


@lru_cache(maxsize=256)
def _annuity(rate: Decimal, n: int) -> tuple[int, int]:
    return annuity_factor(rate, n)


@dataclass(frozen=True)
class DebtContext:
    """What a plan is made for: one loan's outstanding debt as of a date, and the rules that bound it."""

    loan_id: int
    as_of: date
    debt: Amounts
    contract_rate: Decimal
    product: Product
    legal: LegalLimits
    remaining_periods: int  # contractual instalments not yet due
    dpd: int
    baseline_payment_fen: int  # monthly payment the contract asks now: debt ÷ max(remaining periods, 1)


@dataclass(frozen=True)
class Terms:
    periods: int
    annual_rate: Decimal
    holiday_months: int = 0
    step_up_share: Decimal | None = None
    waiver: Amounts = Amounts()
    waiver_conditional: bool = True
    settlement: bool = False

    def to_dict(self) -> dict:
        w = self.waiver
        return {"periods": self.periods, "annual_rate": str(self.annual_rate), "holiday_months": self.holiday_months,
                "step_up_share": None if self.step_up_share is None else str(self.step_up_share),
                "waiver": {c: getattr(w, c) for c in COMPONENTS}, "waiver_conditional": self.waiver_conditional,
                "settlement": self.settlement}

    @classmethod
    def from_dict(cls, data: dict) -> Terms:
        return cls(periods=int(data["periods"]), annual_rate=Decimal(str(data["annual_rate"])),
                   holiday_months=int(data.get("holiday_months", 0)),
                   step_up_share=None if data.get("step_up_share") in (None, "") else Decimal(str(data["step_up_share"])),
                   waiver=Amounts(**data.get("waiver", {})),
                   waiver_conditional=bool(data.get("waiver_conditional", True)),
                   settlement=bool(data.get("settlement", False)))


def baseline_payment(debt: Amounts, remaining_periods: int) -> int:
    return round_ratio(debt.total, max(remaining_periods, 1), "half_up")


def infer_kind(ctx: DebtContext, t: Terms) -> str:
    """The plan kind named by its terms: one relief → that relief, several → combination."""
    if t.settlement:
        return "settlement"
    reliefs = [k for k, on in (("rate_reduction", t.annual_rate < ctx.contract_rate),
                               ("payment_holiday", t.holiday_months > 0),
                               ("step_up", t.step_up_share is not None),
                               ("waiver", t.waiver.total > 0)) if on]
    if len(reliefs) > 1:
        return "combination"
    if reliefs:
        return reliefs[0]
    return "extension" if 0 < ctx.remaining_periods < t.periods else "instalments"


def _spread(amount: int, n: int) -> list[int]:
    """``amount`` in ``n`` near-equal parts, the first ``amount % n`` one fen larger."""
    base, extra = divmod(amount, n)
    return [base + (1 if k < extra else 0) for k in range(n)]


def _amortise(principal: int, rate: Decimal, n: int, mode: str, step: Decimal | None) -> list[tuple[int, int]]:
    """(principal, interest) per instalment, monthly 30/360."""
    num, den = decimal_ratio(rate)
    out: list[tuple[int, int]] = []
    remaining = principal
    first_phase = n // 2 if step is not None else 0
    if first_phase:
        s_num, s_den = decimal_ratio(step)
        level = round_ratio(principal * s_num, s_den * n, mode)
        for _ in range(first_phase):
            interest = round_ratio(remaining * num, den * 12, mode)
            part = min(level, remaining)
            out.append((part, interest))
            remaining -= part
    rest = n - first_phase
    f_num, f_den = _annuity(rate, rest)
    payment = round_ratio(remaining * f_num, f_den, mode)
    for k in range(rest):
        interest = round_ratio(remaining * num, den * 12, mode)
        part = remaining if k == rest - 1 else min(max(payment - interest, 0), remaining)
        out.append((part, interest))
        remaining -= part
    return out


def build_plan(ctx: DebtContext, t: Terms, opts: Options, memo: dict | None = None) -> Plan:
    """The plan for ``t`` (see the module docstring). ``t`` must already be within limits
    (``limits.term_violations``); a waiver larger than the debt is a ValueError. ``memo`` (a dict kept for one
    case's candidates) shares the amortisation rows of candidates that differ only in their waiver of arrears."""
    rest = {c: getattr(ctx.debt, c) - getattr(t.waiver, c) for c in COMPONENTS}
    if any(v < 0 for v in rest.values()):
        raise ValueError("waiver exceeds the debt")
    mode = ctx.product.rounding
    kind = infer_kind(ctx, t)
    if t.settlement:
        schedule = (PlanInstalment(1, ctx.as_of + timedelta(days=opts.settlement_days), Amounts(**rest)),)
        return Plan(kind, ctx.loan_id, ctx.as_of, ctx.debt, schedule, t.waiver, Amounts(), Decimal("0"),
                    t.waiver_conditional, t.to_dict()).check()
    n = t.periods
    num, den = decimal_ratio(t.annual_rate)
    holiday_interest = round_ratio(rest["principal"] * num * t.holiday_months, den * 12, mode)
    key = (rest["principal"], t.annual_rate, n, mode, t.step_up_share)
    rows = memo.get(key) if memo is not None else None
    if rows is None:
        rows = _amortise(*key)
        if memo is not None:
            memo[key] = rows
    spread = {c: _spread(rest[c] + (holiday_interest if c == "interest" else 0), n) for c in SPREAD}
    first = _due(ctx.as_of, 2 + t.holiday_months)  # one month after the plan date, after any holiday
    schedule = tuple(
        PlanInstalment(k + 1, _due(first, k + 1),
                       Amounts(principal=p, interest=i + spread["interest"][k], penalty=spread["penalty"][k],
                               fee=spread["fee"][k], cost=spread["cost"][k]))
        for k, (p, i) in enumerate(rows))
    added = Amounts(interest=sum(i for _, i in rows) + holiday_interest)
    return Plan(kind, ctx.loan_id, ctx.as_of, ctx.debt, schedule, t.waiver, added, t.annual_rate,
                t.waiver_conditional, t.to_dict()).check()

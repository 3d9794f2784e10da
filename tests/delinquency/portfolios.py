"""Random portfolios for the end-of-day engine (docs/eod.md): a seeded generator and hypothesis strategies.

Every loan gets its schedule from ``generate_schedule`` (so schedules are consistent), every product of
the catalogue appears (in any portfolio of five loans or more), some loans are restructured, and payment
histories mix on-time, early, in-grace, late, partial and split payments, penalty payments and waivers,
defaulters and early payoffs. Histories run to the end of 2026 whatever the business date D, so there are
always settlements after D (to be ignored). No settlement ever exceeds what is due: a penalty payment made
with a late principal payment at ``t`` is at most floor(a·(t−E)·P/B) for that chunk alone (the card: the
违约金 on what was unpaid at E+g), which the uncapped penalty on any later date covers. ``broken`` loans
break exactly one rejection rule each, dated ≤ D so the run sees it; ``expected_rejections`` names them.

``generate_portfolio(seed, ...)`` is fast (hundreds of loans in well under a second) for engine-vs-reference
comparisons; ``portfolios()`` draws a seed and sizes through hypothesis; ``small_portfolios()`` makes every
choice a hypothesis draw, so a failing case shrinks to a few short loans.
"""

from __future__ import annotations

import dataclasses

import random
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Protocol, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import strategies as st

from arrears.calendar import default_calendar
from arrears.delinquency.contract import DUE, HISTORY, from_history
from arrears.delinquency.due_dates import build_due_dates
from arrears.delinquency.model import LOANS, SNAPSHOT, EngineInputs
from arrears.delinquency.reference import (
    BEFORE_DISBURSEMENT,
    NEGATIVE_DUE,
    OVER_SETTLED,
    PRINCIPAL_MISMATCH,
    SEQ_NOT_1_TO_N,
    UNKNOWN_COMPONENT,
    UNKNOWN_PRODUCT,
    UNKNOWN_SEQ,
    evaluate,
)
from arrears.loans.model import LoanTerms
from arrears.loans.schedules import decimal_ratio, generate_schedule
from arrears.products.catalog import Catalog, catalog
from arrears.products.model import Product, RepaymentMethod

T = TypeVar("T")
CALENDAR = default_calendar()
CATALOG = catalog()
FIRST_DAY, LAST_DAY = date(2024, 1, 1), date(2026, 12, 31)  # the calendar knows 2024–2026
FIRST_BUSINESS_DATE = date(2024, 3, 1)
BREAKS = (UNKNOWN_PRODUCT, SEQ_NOT_1_TO_N, PRINCIPAL_MISMATCH, NEGATIVE_DUE, BEFORE_DISBURSEMENT, UNKNOWN_SEQ,
          UNKNOWN_COMPONENT, OVER_SETTLED)
# Loan profiles → the per-instalment behaviours they pick from (repeats weight the pick).
PROFILES = {
    "good": ("on_time",) * 6 + ("early", "grace"),
    "mixed": ("on_time", "on_time", "early", "grace", "late", "partial", "split", "never"),
    "late": ("late", "late", "grace", "split", "on_time", "partial"),
    "defaulter": ("on_time",),  # until it stops paying
    "payoff": ("on_time",),  # then everything at once, before its end
    "dormant": ("never",),
}


class Chooser(Protocol):
    def int(self, lo: int, hi: int) -> int: ...
    def pick(self, options: tuple[T, ...] | list[T]) -> T: ...
    def chance(self, percent: int) -> bool: ...


class RandomChooser:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def int(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def pick(self, options):
        return options[self.rng.randrange(len(options))]

    def chance(self, percent: int) -> bool:
        return self.rng.randrange(100) < percent


class DrawChooser:
    """Every choice a hypothesis draw, so failures shrink."""

    def __init__(self, draw) -> None:
        self.draw = draw

    def int(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def pick(self, options):
        return options[self.draw(st.integers(0, len(options) - 1))]

    def chance(self, percent: int) -> bool:
        return self.draw(st.integers(0, 99)) < percent


@dataclass(frozen=True)
class Portfolio:
    inputs: EngineInputs
    business_date: date
    expected_rejections: dict[int, str]  # loan_id → reason, for the deliberately broken loans
    previous_date: date | None = None
    catalog: Catalog = CATALOG
    history: pa.Table | None = None  # every settlement, whatever its date (inputs hold the contract's part)

    def on(self, d: date, *, last: date | None = None, previous: pa.Table | None = None) -> EngineInputs:
        """The inputs for business date ``d`` (settlements dated after ``last`` left out, if given)."""
        history = self.history
        if last is not None:
            history = history.filter(pc.less_equal(history["value_date"], pa.scalar(last, pa.date32())))
        return contract_inputs(self.inputs.loans, self.inputs.instalments, history, d, previous)


def effective_due(product: Product, due_on: date) -> date:
    return CALENDAR.next_business_day(due_on) if product.holiday_rule == "next_business_day" else due_on


def days(start: date, n: int) -> date:
    return start + timedelta(days=n)


# ---- one loan ------------------------------------------------------------------------------------------

def _terms(ch: Chooser, product: Product, d: date) -> LoanTerms:
    method = ch.pick(product.repayment_methods)
    principal = ch.int(1, 5_000) if ch.chance(5) else ch.int(1_000_00, 300_000_00)
    max_bp = int(product.annual_rate_max * 10_000)
    bp = 0 if ch.chance(4) else ch.pick((max_bp, ch.int(1, max_bp)))
    term = ch.int(1, 12) if method is RepaymentMethod.bullet else ch.int(1, 36)
    disbursed = days(FIRST_DAY, ch.int(0, (d - FIRST_DAY).days - 1))
    first_due = days(disbursed, ch.int(10, 45))
    return LoanTerms(principal, Decimal(bp).scaleb(-4), term, method, disbursed, first_due)


def _schedule(ch: Chooser, terms: LoanTerms, product: Product) -> list[dict]:
    fee = ch.int(0, terms.principal_fen // 100 + 1) if ch.chance(25) else 0
    rows = [{"seq": s.seq, "due_on": s.due_on, "principal_due_fen": s.principal_fen,
             "interest_due_fen": s.interest_fen, "fee_due_fen": fee, "cost_due_fen": 0}
            for s in generate_schedule(terms, product)]
    if ch.chance(10):  # enforcement costs charged to one instalment
        ch.pick(rows)["cost_due_fen"] = ch.int(1, 80_000)
    return rows


class History:
    """Settlements of one loan, never more than due; penalty payments only with a late principal chunk."""

    def __init__(self, ch: Chooser, product: Product, terms: LoanTerms, rows: list[dict]) -> None:
        self.ch, self.product, self.terms, self.rows = ch, product, terms, rows
        self.left = {(r["seq"], c): r[f"{c}_due_fen"] for r in rows
                     for c in ("principal", "interest", "fee", "cost")}
        self.card_fee_left: dict[int, int] = {}
        self.out: list[dict] = []
        rate_num, rate_den = decimal_ratio(terms.annual_rate)
        markup = product.penalty.markup or Decimal(0)
        mk_num, mk_den = decimal_ratio(markup)
        basis = 365 if product.interest_basis == "daily_365" else 360
        self.p_num, self.p_den = rate_num * (mk_den + mk_num), rate_den * mk_den * basis

    def settle(self, row: dict, component: str, amount: int, on: date) -> None:
        amount = min(amount, self.left[(row["seq"], component)])
        if amount <= 0 or not self.terms.disbursed_on <= on <= LAST_DAY:
            return
        self.left[(row["seq"], component)] -= amount
        self.out.append({"seq": row["seq"], "component": component, "amount_fen": amount, "value_date": on})
        if component == "principal":
            self._maybe_penalty(row, amount, on)

    def pay(self, row: dict, on: date, share: int = 100) -> None:
        """``share`` percent of what is left of each component (cost, fee, interest, principal), on ``on``."""
        for component in ("cost", "fee", "interest", "principal"):
            left = self.left[(row["seq"], component)]
            self.settle(row, component, left if share >= 100 else left * share // 100, on)

    def _maybe_penalty(self, row: dict, amount: int, on: date) -> None:
        rule, e, g = self.product.penalty, row["effective"], self.product.grace_days
        if rule.kind == "none" or e is None or (on - e).days <= g or not self.ch.chance(60):
            return
        if rule.kind == "rate_markup":
            bound = amount * (on - e).days * self.p_num // self.p_den
        else:  # card: the 违约金 on what was unpaid at E+g, once per cycle
            if row["seq"] not in self.card_fee_left:
                paid = sum(s["amount_fen"] for s in self.out if s["seq"] == row["seq"]
                           and s["component"] in ("principal", "interest") and s["value_date"] <= days(e, g))
                minimum = row["principal_due_fen"] + row["interest_due_fen"]
                num, den = decimal_ratio(rule.default_fee_rate)  # type: ignore[arg-type]
                self.card_fee_left[row["seq"]] = num * max(0, minimum - paid) // den
            bound = self.card_fee_left[row["seq"]]
        penalty = bound if self.ch.chance(50) else self.ch.int(0, bound)  # paid in full, or part (a waiver)
        if penalty > 0:
            self.card_fee_left[row["seq"]] = self.card_fee_left.get(row["seq"], 0) - penalty
            self.out.append({"seq": row["seq"], "component": "penalty", "amount_fen": penalty,
                             "value_date": on})


def _history(ch: Chooser, product: Product, terms: LoanTerms, rows: list[dict]) -> list[dict]:
    h, g = History(ch, product, terms, rows), product.grace_days
    profile = ch.pick(tuple(PROFILES))
    stop = ch.int(1, len(rows) + 1)  # defaulter stops, payoff pays everything, at this seq
    for row in rows:
        e = row["effective"]
        if e is None:  # due after the calendar's last year: nothing is paid
            break
        if profile == "payoff" and row["seq"] == stop:
            on = days(e, -ch.int(1, 25))
            for rest in rows[row["seq"] - 1:]:
                h.pay(rest, max(on, terms.disbursed_on))
            break
        if profile == "defaulter" and row["seq"] >= stop:
            if ch.chance(30):
                h.pay(row, days(e, ch.int(g + 1, 200)), share=ch.int(1, 99))
            continue
        behaviour = ch.pick(PROFILES[profile])
        if behaviour == "on_time":
            h.pay(row, days(row["due_on"], -ch.int(0, 5)) if ch.chance(70) else e)
        elif behaviour == "early":
            h.pay(row, max(terms.disbursed_on, days(row["due_on"], -ch.int(6, 40))))
        elif behaviour == "grace":
            h.pay(row, days(e, ch.int(1, g) if g else 0))
        elif behaviour == "late":
            h.pay(row, days(e, ch.int(g + 1, 150)))
        elif behaviour == "partial":
            h.pay(row, days(e, ch.int(-3, 60)), share=ch.int(1, 99))
        elif behaviour == "split":  # part on time or in grace, the rest (maybe) later
            first = days(e, ch.int(-5, g))
            h.pay(row, first, share=ch.int(1, 99))
            if ch.chance(50):  # a second payment the same day
                h.pay(row, first, share=ch.int(1, 99))
            if ch.chance(80):
                h.pay(row, days(first, ch.int(1, 120)))
    return h.out


def _loan(ch: Chooser, loan_id: int, borrower_id: int, d: date,
          products: list[Product]) -> tuple[dict, list, list]:
    product = ch.pick(products)
    terms = _terms(ch, product, d)
    rows = _schedule(ch, terms, product)
    for r in rows:
        r["effective"] = effective_due(product, r["due_on"]) if r["due_on"] <= LAST_DAY else None
    restructured = None
    if ch.chance(15):
        restructured = days(terms.disbursed_on, ch.int(1, (rows[-1]["due_on"] - terms.disbursed_on).days))
    loan = {"loan_id": loan_id, "borrower_id": borrower_id, "product_code": product.code,
            "annual_rate": str(terms.annual_rate), "principal_fen": terms.principal_fen,
            "disbursed_on": terms.disbursed_on, "restructured_on": restructured}
    settlements = _history(ch, product, terms, rows)
    for r in rows:
        del r["effective"]
    return loan, rows, settlements


def _break(ch: Chooser, how: str, loan: dict, rows: list[dict], settlements: list[dict]) -> str:
    """Break one rule; every added settlement is dated ≤ D (the loan was disbursed before D)."""
    on = loan["disbursed_on"]
    if how == UNKNOWN_PRODUCT:
        loan["product_code"] = "payday_loan"
    elif how == SEQ_NOT_1_TO_N:
        rows[-1]["seq"] = len(rows) + ch.int(1, 3) if len(rows) == 1 or ch.chance(50) else rows[0]["seq"]
    elif how == PRINCIPAL_MISMATCH:
        loan["principal_fen"] += ch.pick((1, -1))
    elif how == NEGATIVE_DUE:
        ch.pick(rows)[ch.pick(("interest_due_fen", "fee_due_fen", "cost_due_fen"))] = -ch.int(1, 100)
    elif how == BEFORE_DISBURSEMENT:
        settlements.append({"seq": 1, "component": "interest", "amount_fen": 0, "value_date": days(on, -1)})
    elif how == UNKNOWN_SEQ:
        settlements.append({"seq": len(rows) + 1, "component": "fee", "amount_fen": 1, "value_date": on})
    elif how == UNKNOWN_COMPONENT:
        settlements.append({"seq": 1, "component": "tip", "amount_fen": 1, "value_date": on})
    elif how == OVER_SETTLED:
        row = ch.pick(rows)
        c = ch.pick(("principal", "interest", "fee", "cost"))
        settlements.append({"seq": row["seq"], "component": c, "amount_fen": row[f"{c}_due_fen"] + 1,
                            "value_date": on})
    return how


# ---- a portfolio ---------------------------------------------------------------------------------------

def build_portfolio(ch: Chooser, n_loans: int, business_date: date, *, broken: int = 0,
                    previous: str = "random") -> Portfolio:
    """``previous``: "none" (empty), "reference" (the reference's snapshot for D−1..D−30, some loans dropped
    from it), or "random" (either)."""
    d = business_date
    products = sorted(CATALOG.products.values(), key=lambda p: p.code)
    loans, instalments, settlements, expected = [], [], [], {}
    loan_id = ch.int(1, 1000)
    for n in range(n_loans):
        loan_id += ch.int(1, 20)
        # the first loans take every product in turn, so each appears in any portfolio of five or more
        pool = [products[n]] if n < len(products) else products
        loan, rows, paid = _loan(ch, loan_id, ch.int(1, n_loans // 2 + 1), d, pool)
        if n >= n_loans - broken:  # the last ``broken`` loans
            expected[loan_id] = _break(ch, BREAKS[len(expected) % len(BREAKS)], loan, rows, paid)
        loans.append(loan)
        instalments += [{"loan_id": loan_id, **r} for r in rows]
        settlements += [{"loan_id": loan_id, **s} for s in paid]
    shuffle = random.Random(ch.int(0, 2**32))  # row order must not matter
    for rows in (loans, instalments, settlements):
        shuffle.shuffle(rows)
    loans_t, history = pa.Table.from_pylist(loans, schema=LOANS), pa.Table.from_pylist(settlements, schema=HISTORY)
    inputs = contract_inputs(loans_t, pa.Table.from_pylist(instalments, schema=DUE), history, d)
    portfolio = Portfolio(inputs, d, expected, history=history)
    if previous == "reference" or (previous == "random" and ch.chance(75)):
        portfolio = with_previous(portfolio, days(d, -ch.int(1, 30)), drop_every=ch.pick((0, 0, 7, 3)))
    return portfolio


def with_previous(portfolio: Portfolio, previous_date: date, drop_every: int = 0) -> Portfolio:
    """The portfolio with ``previous`` = the reference's snapshot on ``previous_date`` (optionally without
    every ``drop_every``-th loan, which then compares as a loan new to the run)."""
    snap = evaluate(portfolio.on(previous_date), previous_date, portfolio.catalog).snapshot
    if drop_every:
        snap = snap.filter(pa.array([k % drop_every != 0 for k in range(snap.num_rows)], pa.bool_()))
    return replace(portfolio, inputs=replace(portfolio.inputs, previous=snap), previous_date=previous_date)


def contract_inputs(loans: pa.Table, instalments: pa.Table, history: pa.Table, d: date,
                    previous: pa.Table | None = None) -> EngineInputs:
    """EngineInputs for D from the instalments' due amounts and every settlement (``contract.from_history``)."""
    due = instalments.select(DUE.names)
    totals, one_by_one = from_history(loans, due, history, d)
    return EngineInputs(loans=loans, instalments=totals, settlements=one_by_one,
                        due_dates=build_due_dates(due["due_on"].to_pylist(), d, CALENDAR),
                        previous=EngineInputs.empty_previous() if previous is None else previous)


def generate_portfolio(seed: int, n_loans: int = 200, business_date: date | None = None, *, broken: int = 0,
                       previous: str = "random") -> Portfolio:
    """A seeded portfolio; D is drawn from 2024-03-01..2026-12-31 unless given."""
    ch = RandomChooser(seed)
    d = business_date or days(FIRST_BUSINESS_DATE, ch.int(0, (LAST_DAY - FIRST_BUSINESS_DATE).days))
    return build_portfolio(ch, n_loans, d, broken=broken, previous=previous)


# ---- hand-made loans (for hand-checked examples, through the reference or the engine) ------------------

DISBURSED = date(2025, 1, 10)


@dataclass
class Loan:
    """One loan written out by hand; ``inputs`` turns a few of them into EngineInputs for D."""

    product: str
    rows: list[tuple]  # (due_on, principal, interest[, fee, cost])
    paid: list[tuple] = field(default_factory=list)  # (seq, component, amount, value_date)
    rate: str = "0.12"
    disbursed: date = DISBURSED
    restructured: date | None = None
    loan_id: int = 1
    principal: int | None = None  # default: the instalments' principal
    seqs: list[int] | None = None  # default: 1..n


def inputs(loans: list[Loan], d: date, previous: list[dict] | None = None) -> EngineInputs:
    rows = [{"loan_id": ln.loan_id, "seq": seq, "due_on": r[0], "principal_due_fen": r[1],
             "interest_due_fen": r[2], "fee_due_fen": (r + (0, 0))[3], "cost_due_fen": (r + (0, 0))[4]}
            for ln in loans for seq, r in zip(ln.seqs or range(1, len(ln.rows) + 1), ln.rows)]
    return contract_inputs(
        pa.Table.from_pylist([{
            "loan_id": ln.loan_id, "borrower_id": 7, "product_code": ln.product, "annual_rate": ln.rate,
            "principal_fen": ln.principal if ln.principal is not None else sum(r[1] for r in ln.rows),
            "disbursed_on": ln.disbursed, "restructured_on": ln.restructured} for ln in loans], schema=LOANS),
        pa.Table.from_pylist(rows, schema=DUE),
        pa.Table.from_pylist([{"loan_id": ln.loan_id, "seq": s, "component": c, "amount_fen": a,
                               "value_date": v} for ln in loans for s, c, a, v in ln.paid], schema=HISTORY),
        d, pa.Table.from_pylist(previous or [], schema=SNAPSHOT))


# ---- hypothesis ----------------------------------------------------------------------------------------

def business_dates() -> st.SearchStrategy[date]:
    return st.dates(FIRST_BUSINESS_DATE, LAST_DAY)


def portfolios(min_loans: int = 100, max_loans: int = 300, *, broken: bool = True,
               previous: str = "random") -> st.SearchStrategy[Portfolio]:
    """Large portfolios from a drawn seed (fast; shrinks by seed, size and date only)."""
    return st.builds(lambda seed, n, d, k: generate_portfolio(seed, n, d, broken=k, previous=previous),
                     st.integers(0, 2**32), st.integers(min_loans, max_loans), business_dates(),
                     st.integers(0, len(BREAKS) * 2) if broken else st.just(0))


@st.composite
def small_portfolios(draw, max_loans: int = 3, broken: bool = False,
                     previous: str = "random"):
    """A few loans, every choice drawn, so a failing example shrinks to something readable."""
    ch = DrawChooser(draw)
    d = draw(business_dates())
    n = draw(st.integers(1, max_loans))
    return build_portfolio(ch, n, d, broken=draw(st.integers(0, 1)) if broken else 0, previous=previous)


def tweaked(code: str, **changes: object) -> Catalog:
    """The catalogue with one product's fields changed (for examples under other rounding, bases, caps)."""
    product = CATALOG.products[code].model_copy(update=changes)
    return dataclasses.replace(CATALOG, products={**CATALOG.products, code: product})


def previous_row(loan_id: int, dpd: int, bucket: str, classification: str, fully_paid: bool = False) -> dict:
    """A hand-made previous-snapshot row (internet loan, 2025-03-19) for transition examples."""
    row = dict.fromkeys(SNAPSHOT.names, 0) | {"business_date": date(2025, 3, 19), "loan_id": loan_id,
                                               "borrower_id": 7, "product_code": "internet_loan"}
    return row | {"dpd": dpd, "bucket": bucket, "tier": bucket, "m_bucket": "M0",
                  "classification": classification, "in_observation": False, "fully_paid": fully_paid}

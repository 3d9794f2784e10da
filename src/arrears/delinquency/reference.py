"""The per-loan reference implementation of the end-of-day engine: the test oracle (docs/eod.md).

Plain Python, one loan at a time, following the doc section by section and written to be read, not to be
fast. The columnar engine must agree with it to the fen and the day. Where the doc leaves a point open the
reading taken is marked ``Reading:``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import pyarrow as pa

from arrears.errors import InvalidInput
from arrears.loans.schedules import decimal_ratio, round_ratio
from arrears.products.catalog import Catalog, Scheme
from arrears.products.model import Product

from .model import PENALTIES, REJECTED, SNAPSHOT, TRANSITIONS, EngineInputs, EngineOutputs

DUE_COMPONENTS = ("principal", "interest", "fee", "cost")  # what an instalment owes; penalty is computed
SETTLED_COMPONENTS = (*DUE_COMPONENTS, "penalty")

# Rejection reasons in the doc's order; a loan is named once, with the first that applies.
UNKNOWN_PRODUCT = "unknown_product"
SEQ_NOT_1_TO_N = "seq_not_1_to_n"
PRINCIPAL_MISMATCH = "principal_sum_mismatch"
NEGATIVE_DUE = "negative_due"
BEFORE_DISBURSEMENT = "settlement_before_disbursement"
UNKNOWN_SEQ = "settlement_unknown_seq"
UNKNOWN_COMPONENT = "settlement_unknown_component"  # Reading: not in the doc; a component outside the five
OVER_SETTLED = "over_settled"
REASONS = (UNKNOWN_PRODUCT, SEQ_NOT_1_TO_N, PRINCIPAL_MISMATCH, NEGATIVE_DUE, BEFORE_DISBURSEMENT,
           UNKNOWN_SEQ, UNKNOWN_COMPONENT, OVER_SETTLED)


@dataclass
class Instalment:
    seq: int
    due_on: date
    due: dict[str, int]  # principal, interest, fee, cost
    total: dict[str, int]  # settled by D, per component (penalty too): the caller's totals
    effective: date | None = None  # E(i); only known (and only needed) when due_on ≤ D
    # the settlements seen one by one (value_date ≤ D; every one dated after due_on is among them), by date
    paid: dict[str, list[tuple[date, int]]] = field(default_factory=dict)

    def settled(self, component: str, by: date | None = None) -> int:
        """Settled by D, or by ``by`` ≥ due_on: the total less what was settled after ``by`` (all of
        which the caller passed one by one)."""
        total = self.total.get(component, 0)
        if by is None:
            return total
        assert by >= self.due_on, "settled by a date before the due date is not in the contract"
        return total - sum(a for v, a in self.paid.get(component, ()) if v > by)

    def outstanding(self, component: str) -> int:
        return self.due[component] - self.settled(component)

    @property
    def e(self) -> date:
        # A due date after D has no due_dates row; its E is ≥ due_on > D, and every use of it below only
        # compares it with D (or with dates ≤ D), so due_on stands in without changing any result.
        return self.effective or self.due_on


@dataclass
class LoanResult:
    """One loan's evaluation on D (kept whole so tests can look inside, e.g. at the uncapped penalty)."""

    row: dict
    uncapped: list[int]
    capped: list[int]
    penalty_due: list[int]
    snapshot: dict


# ---- notation ------------------------------------------------------------------------------------------

def is_late(i: Instalment, t: date, grace: int) -> bool:
    return i.effective is not None and (t - i.effective).days > grace


def is_past_due(i: Instalment, d: date, grace: int) -> bool:
    return is_late(i, d, grace)


# ---- penalty per instalment -----------------------------------------------------------------------------

def weight(i: Instalment, component: str, d: date, grace: int) -> int:
    """W: each settlement is a chunk ending at its value date, the unsettled rest a chunk ending at D;
    a late chunk weighs amount × days from E (within grace costs nothing, after it from day one). A late
    chunk ends after E + g ≥ due_on, so it is among the settlements passed one by one."""
    chunks = [(a, v) for v, a in i.paid.get(component, ())]
    if i.outstanding(component) > 0:
        chunks.append((i.outstanding(component), d))
    return sum(a * (t - i.effective).days for a, t in chunks if is_late(i, t, grace))  # type: ignore[operator]


def uncapped_penalty(i: Instalment, annual_rate: Decimal, product: Product, d: date) -> int:
    rule, grace, mode = product.penalty, product.grace_days, product.rounding
    if rule.kind == "none" or i.effective is None:
        return 0
    if rule.kind == "card_default_fee":  # 违约金: once per cycle on the minimum payment unpaid by E + g
        if not is_past_due(i, d, grace):
            return 0
        minimum = i.due["principal"] + i.due["interest"]
        by = i.effective + timedelta(days=grace)
        unpaid = max(0, minimum - i.settled("principal", by) - i.settled("interest", by))
        num, den = decimal_ratio(rule.default_fee_rate)  # type: ignore[arg-type]
        return round_ratio(num * unpaid, den, mode)
    # rate_markup: P = annual_rate × (1 + markup) as one exact ratio over the day basis B.
    rate_num, rate_den = decimal_ratio(annual_rate)
    mk_num, mk_den = decimal_ratio(rule.markup)  # type: ignore[arg-type]
    basis = 365 if product.interest_basis == "daily_365" else 360
    p_num, p_den = rate_num * (mk_den + mk_num), rate_den * mk_den * basis
    on_principal = round_ratio(weight(i, "principal", d, grace) * p_num, p_den, mode)
    compound = round_ratio(weight(i, "interest", d, grace) * p_num, p_den, mode) if rule.compound else 0
    return on_principal + compound


def cap_rate(product: Product, catalog: Catalog) -> Decimal | None:
    caps, rates = product.penalty.caps, []
    if caps.total_cost_annual is not None:
        rates.append(caps.total_cost_annual)
    if caps.lpr_multiple:
        legal = catalog.legal
        rates.append(legal.private_lending_cap_lpr_multiple.multiple * legal.one_year_lpr.rate)
    return min(rates) if rates else None


def apply_cap(uncapped: list[int], insts: list[Instalment], loan: dict, product: Product, catalog: Catalog,
              d: date) -> list[int]:
    """The loan's room under the total-cost cap, handed to the instalments in seq order."""
    rate = cap_rate(product, catalog)
    if rate is None:
        return list(uncapped)
    c_num, c_den = decimal_ratio(rate)
    days = (d - loan["disbursed_on"]).days
    allowed = round_ratio(loan["principal_fen"] * c_num * days, c_den * 365, product.rounding)
    used = sum(i.due["interest"] + i.due["fee"] for i in insts if i.due_on <= d)
    room = max(0, allowed - used)
    if sum(uncapped) <= room:
        return list(uncapped)
    capped = []
    for amount in uncapped:  # insts (and so uncapped) are in seq order
        capped.append(min(amount, room))
        room -= capped[-1]
    return capped


# ---- restructured loans ---------------------------------------------------------------------------------

def fully_settled_on(i: Instalment, d: date) -> date | None:
    """First value date at which settled principal + interest reaches their due amount (None if not yet).

    What was settled by due_on is the total less the settlements after it (passed one by one); if that
    is enough, the date it was reached is some day ≤ min(due_on, D), which stands in for it: every use
    compares it with E + g ≥ due_on and with D, and a stand-in in that range gives the same answers."""
    owed = i.due["principal"] + i.due["interest"]
    if owed <= 0:
        return i.e  # Reading: nothing to pay counts as paid on its due date
    running = i.settled("principal", i.due_on) + i.settled("interest", i.due_on)
    if running >= owed:
        return min(i.due_on, d)
    later = [(v, a) for v, a in i.paid.get("principal", []) + i.paid.get("interest", []) if v > i.due_on]
    for v, a in sorted(later):
        running += a
        if running >= owed:
            return v
    return None


def is_missed(i: Instalment, d: date, grace: int) -> bool:
    settled_on = fully_settled_on(i, d)
    if settled_on is None or settled_on > d:
        return is_past_due(i, d, grace)
    return is_late(i, settled_on, grace)


def restructuring_floor(loan: dict, insts: list[Instalment], d: date, grace: int, dpd: int,
                        catalog: Catalog) -> tuple[bool, str | None]:
    """(in_observation, classification floor or None)."""
    rules, restructured_on = catalog.restructuring, loan["restructured_on"]
    # Reading: a restructuring dated after D had not happened on D (like a settlement after D).
    if restructured_on is None or restructured_on > d:
        return False, None
    after = [i for i in insts if i.due_on > restructured_on]
    if not after:
        return False, None  # Reading: no instalment after restructuring, nothing to observe
    obs_start = after[0].e
    # Reading: with fewer instalments than observation_min_periods the last one stands in.
    nth = after[min(rules.observation_min_periods, len(after)) - 1]
    obs_end = max(obs_start + timedelta(days=rules.observation_min_days), nth.e)
    if d < obs_end:
        missed = any(obs_start <= i.e < d and is_missed(i, d, grace) for i in insts)
        return True, rules.floor_after_miss if missed else rules.floor_in_observation
    misses = [i for i in insts if obs_start <= i.e < obs_end and is_missed(i, d, grace)]
    if not misses:
        return False, None
    last = max(misses, key=lambda i: (i.e, i.seq))
    on_time = [j for j in insts if j.seq > last.seq and (s := fully_settled_on(j, d)) is not None and s <= d
               and not is_late(j, s, grace)]
    recovered = dpd == 0 and (len(on_time) >= rules.recovery_periods
                              or (d - last.e).days >= rules.recovery_days)
    return False, None if recovered else rules.floor_after_miss


# ---- one loan -------------------------------------------------------------------------------------------

def level(scheme: Scheme, dpd: int) -> str:
    return scheme.level_for(dpd).code


def evaluate_loan(loan: dict, product: Product, insts: list[Instalment], d: date,
                  catalog: Catalog) -> LoanResult:
    """Penalties and state of one loan that passed the checks (insts in seq order, settlements ≤ D)."""
    grace, rate = product.grace_days, Decimal(loan["annual_rate"])
    uncapped = [uncapped_penalty(i, rate, product, d) for i in insts]
    capped = apply_cap(uncapped, insts, loan, product, catalog, d)
    penalty_due = [max(c, i.settled("penalty")) for c, i in zip(capped, insts)]  # the floor

    past_due = [i for i in insts if is_past_due(i, d, grace)]
    owing = [i for i in past_due if sum(i.outstanding(c) for c in DUE_COMPONENTS) > 0]
    dpd = (d - min(i.effective for i in owing)).days if owing else 0  # type: ignore[type-var,operator]
    overdue_penalty = sum(p - i.settled("penalty") for p, i in zip(penalty_due, insts))
    outstanding_principal = sum(i.outstanding("principal") for i in insts)
    owed_now = sum(i.outstanding(c) for i in insts if i.due_on <= d for c in ("interest", "fee", "cost"))
    fully_paid = overdue_penalty == 0 and all(i.outstanding(c) == 0 for i in insts for c in DUE_COMPONENTS)

    classes = catalog.classifications[product.classification]
    codes = [lv.code for lv in classes.levels]
    classification = level(classes, dpd)
    in_observation, floor = restructuring_floor(loan, insts, d, grace, dpd, catalog)
    if floor is not None and codes.index(floor) > codes.index(classification):
        classification = floor  # raised to the floor, never lowered by it

    snapshot = {
        "business_date": d, "loan_id": loan["loan_id"], "borrower_id": loan["borrower_id"],
        "product_code": loan["product_code"], "dpd": dpd,
        "overdue_principal_fen": sum(i.outstanding("principal") for i in past_due),
        "overdue_interest_fen": sum(i.outstanding("interest") for i in past_due),
        "overdue_fee_fen": sum(i.outstanding("fee") + i.outstanding("cost") for i in past_due),
        "overdue_penalty_fen": overdue_penalty, "penalty_due_fen": sum(penalty_due),
        "outstanding_principal_fen": outstanding_principal,
        "total_outstanding_fen": outstanding_principal + owed_now + overdue_penalty,
        "bucket": level(catalog.buckets[product.buckets], dpd), "tier": level(catalog.buckets["seed3"], dpd),
        "m_bucket": level(catalog.buckets["m_buckets"], dpd), "classification": classification,
        "in_observation": in_observation, "fully_paid": fully_paid,
    }
    return LoanResult(loan, uncapped, capped, penalty_due, snapshot)


# ---- rejected loans -------------------------------------------------------------------------------------

def rejection(loan: dict, product: Product | None, rows: list[dict], settlements: list[dict]) -> str | None:
    """The first reason (doc order) that keeps a loan out of the run, before the penalty is known.

    ``settlements`` are the ones passed one by one with value_date ≤ D (the run does not see later ones);
    by the contract every settlement before disbursement or naming an unknown seq or component is among them.
    """
    if product is None:
        return UNKNOWN_PRODUCT
    if sorted(r["seq"] for r in rows) != list(range(1, len(rows) + 1)):
        return SEQ_NOT_1_TO_N
    if sum(r["principal_due_fen"] for r in rows) != loan["principal_fen"]:
        return PRINCIPAL_MISMATCH
    if any(r[f"{c}_due_fen"] < 0 for r in rows for c in DUE_COMPONENTS):
        return NEGATIVE_DUE
    if any(s["value_date"] < loan["disbursed_on"] for s in settlements):
        return BEFORE_DISBURSEMENT
    if any(s["seq"] not in range(1, len(rows) + 1) for s in settlements):
        return UNKNOWN_SEQ
    if any(s["component"] not in SETTLED_COMPONENTS for s in settlements):
        return UNKNOWN_COMPONENT
    return None


def over_settled(insts: list[Instalment], uncapped: list[int]) -> bool:
    # Penalty is not checked: a recomputed penalty can fall below what was paid, and the floor keeps it.
    del uncapped
    return any(i.settled(c) > i.due[c] for i in insts for c in DUE_COMPONENTS)


# ---- transitions ----------------------------------------------------------------------------------------

def transitions(snap: dict, before: dict | None, buckets: Scheme, classes: Scheme) -> list[dict]:
    """Rows of one loan against its previous snapshot (an absent loan compares with a fresh one)."""
    codes = [lv.code for lv in buckets.levels]
    prev_dpd = before["dpd"] if before else 0
    prev_bucket = before["bucket"] if before else codes[0]
    prev_class = before["classification"] if before else classes.levels[0].code
    prev_paid = bool(before["fully_paid"]) if before else False  # Reading: a new loan was not fully paid
    rows: list[tuple[str, str, str]] = []
    if prev_dpd == 0 and snap["dpd"] > 0:
        rows.append(("became_overdue", str(prev_dpd), str(snap["dpd"])))
    if prev_dpd > 0 and snap["dpd"] == 0:
        rows.append(("cured", str(prev_dpd), str(snap["dpd"])))
    # Reading: a previous bucket code the scheme does not know counts as its first level.
    was, now = codes.index(prev_bucket) if prev_bucket in codes else 0, codes.index(snap["bucket"])
    if now != was:
        rows.append(("bucket_up" if now > was else "bucket_down", prev_bucket, snap["bucket"]))
    if prev_class != snap["classification"]:
        rows.append(("class_changed", prev_class, snap["classification"]))
    if not prev_paid and snap["fully_paid"]:
        rows.append(("fully_paid", "false", "true"))
    return [{"business_date": snap["business_date"], "loan_id": snap["loan_id"], "kind": k, "from_value": a,
             "to_value": b} for k, a, b in sorted(rows)]


# ---- the run --------------------------------------------------------------------------------------------

def _grouped(table: pa.Table) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    for row in table.to_pylist():
        out.setdefault(row["loan_id"], []).append(row)
    return out


def instalments_of(rows: list[dict], settlements: list[dict], effective: dict[tuple[str, date], date],
                   product: Product, d: date) -> list[Instalment]:
    insts = []
    for r in sorted(rows, key=lambda r: r["seq"]):
        e = None
        if r["due_on"] <= d:
            try:
                e = effective[(product.holiday_rule, r["due_on"])]
            except KeyError:
                missing = f"due_dates has no row for {r['due_on']} under {product.holiday_rule}"
                raise InvalidInput(detail=missing,
                                   field="due_dates", rule="due_dates_complete") from None
        insts.append(Instalment(r["seq"], r["due_on"], {c: r[f"{c}_due_fen"] for c in DUE_COMPONENTS},
                                {c: r[f"{c}_settled_fen"] for c in SETTLED_COMPONENTS}, e))
    by_seq = {i.seq: i for i in insts}
    for s in sorted(settlements, key=lambda s: s["value_date"]):
        by_seq[s["seq"]].paid.setdefault(s["component"], []).append((s["value_date"], s["amount_fen"]))
    return insts


def run(inputs: EngineInputs, business_date: date, catalog: Catalog) -> tuple[list[LoanResult], list[dict]]:
    """Every loan's result (those not rejected) and the rejections, both by loan_id."""
    d = business_date
    effective = {(r["holiday_rule"], r["due_on"]): r["effective_due"] for r in inputs.due_dates.to_pylist()}
    instalments, settlements = _grouped(inputs.instalments), _grouped(inputs.settlements)
    results, rejected = [], []
    for loan in sorted(inputs.loans.to_pylist(), key=lambda r: r["loan_id"]):
        lid = loan["loan_id"]
        product = catalog.products.get(loan["product_code"])
        rows = instalments.get(lid, [])
        seen = [s for s in settlements.get(lid, []) if s["value_date"] <= d]  # later ones are not known yet
        reason = rejection(loan, product, rows, seen)
        if reason is None:
            insts = instalments_of(rows, seen, effective, product, d)  # type: ignore[arg-type]
            result = evaluate_loan(loan, product, insts, d, catalog)  # type: ignore[arg-type]
            if over_settled(insts, result.uncapped):
                reason = OVER_SETTLED
            else:
                results.append(result)
        if reason is not None:
            rejected.append({"loan_id": lid, "reason": reason})
    return results, rejected


def evaluate(inputs: EngineInputs, business_date: date, catalog: Catalog, *,
             today: date | None = None) -> EngineOutputs:
    """The EOD run for ``business_date`` (docs/eod.md); ``today``, if given, refuses a later business date."""
    if today is not None and business_date > today:
        raise InvalidInput(detail=f"business date {business_date} is after today ({today})",
                           field="business_date", rule="business_date_not_future")
    results, rejected = run(inputs, business_date, catalog)
    previous = {r["loan_id"]: r for r in inputs.previous.to_pylist()}
    snapshot, penalties, moves = [], [], []
    for res in results:
        lid = res.snapshot["loan_id"]
        snapshot.append(res.snapshot)
        product = catalog.products[res.row["product_code"]]
        penalties += [{"loan_id": lid, "seq": seq, "penalty_due_fen": p}
                      for seq, p in enumerate(res.penalty_due, start=1) if p > 0]
        moves += transitions(res.snapshot, previous.get(lid), catalog.buckets[product.buckets],
                             catalog.classifications[product.classification])
    return EngineOutputs(
        snapshot=_table(snapshot, SNAPSHOT), penalties=_table(penalties, PENALTIES),
        transitions=_table(moves, TRANSITIONS), rejected=_table(rejected, REJECTED))


def _table(rows: list[dict], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)

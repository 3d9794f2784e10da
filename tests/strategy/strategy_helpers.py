"""Shared by the strategy tests: a rules file written from a dict, case facts as Arrow, a pure matcher."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import yaml

from arrears.strategy.config import StrategyFile, load_strategy
from arrears.strategy.evaluate import CASES


def write_rules(tmp_path: Path, strategies: list[dict], **top) -> Path:
    body = {"source": "test rules", "experiment": "exp-test", "send_at_local": "09:00", "strategies": strategies,
            **top}
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")
    return path


def one_strategy(rules: list[dict], tmp_path: Path) -> StrategyFile:
    return load_strategy(write_rules(tmp_path, [{"name": "solo", "role": "champion", "rules": rules}]))


def case(case_id: int, **kw) -> dict:
    row = {"case_id": case_id, "loan_id": case_id, "borrower_id": case_id, "product_code": "consumer_loan",
           "stage": "phone", "opened_on": date(2026, 3, 1), "bucket": "mild", "tier": "mild", "m_bucket": "M1",
           "dpd": 10, "total_outstanding_fen": 100_000, "risk_score": None, "open_complaint": False,
           "promise_open": False}
    return {**row, **kw}


def cases_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=CASES)


def events_table(rows: list[tuple[int, str]]) -> pa.Table:
    return pa.table({"case_id": pa.array([r[0] for r in rows], pa.int64()),
                     "kind": pa.array([r[1] for r in rows], pa.string())})


def in_range(value, r) -> bool:  # noqa: ANN001
    """The test oracle's reading of a range: a missing value never matches, bounds are inclusive."""
    if r is None:
        return True
    if value is None:
        return False
    return (r.min is None or value >= r.min) and (r.max is None or value <= r.max)


def python_match(config: StrategyFile, strategy_name: str, row: dict, events: set[str], day: date) -> str | None:
    """A tiny pure-Python evaluation: the name of the first rule of the strategy that matches, else None."""
    strategy = next(s for s in config.strategies if s.name == strategy_name)
    for rule in strategy.rules:
        w = rule.when
        ok = all(not values or row[col] in values for col, values in (
            ("product_code", w.products), ("stage", w.stages), ("bucket", w.buckets), ("tier", w.tiers),
            ("m_bucket", w.m_buckets)))
        ok = ok and in_range(row["dpd"], w.dpd) and in_range((day - row["opened_on"]).days, w.days_open)
        ok = ok and in_range(row["total_outstanding_fen"], w.total_outstanding_fen)
        ok = ok and in_range(row["risk_score"], w.risk_score)
        ok = ok and all(row[flag] == value for flag, value in w.flags.items())
        ok = ok and (not w.events or bool(events & set(w.events)))
        if ok:
            return rule.name
    return None


def open_case(s, borrower, loan, *, stage: str = "preparation", opened_on: date = date(2026, 3, 1), dpd: int = 10,
              owed_fen: int = 60_900, total_fen: int = 120_000, bucket: str = "mild"):  # noqa: ANN001
    """An open case on ``loan`` with its end-of-day state (loan_delinquency), written directly."""
    from arrears.cases.tables import Case
    from arrears.delinquency.tables import LoanDelinquency

    s.add(LoanDelinquency(loan_id=loan.id, borrower_id=borrower.id, business_date=opened_on,
                          product_code=loan.product_code, dpd=dpd, overdue_principal_fen=owed_fen - 600,
                          overdue_interest_fen=600, overdue_fee_fen=0, overdue_penalty_fen=0, penalty_due_fen=0,
                          outstanding_principal_fen=total_fen, total_outstanding_fen=total_fen, bucket=bucket,
                          tier=bucket, m_bucket="M1", classification="special_mention", in_observation=False,
                          fully_paid=False))
    c = Case(loan_id=loan.id, borrower_id=borrower.id, stage=stage, status="open", opened_on=opened_on,
             next_action="", version=1)
    s.add(c)
    s.flush()
    return c


def transition(s, loan, day: date, kind: str) -> None:  # noqa: ANN001
    from arrears.delinquency.tables import Transition

    s.add(Transition(business_date=day, loan_id=loan.id, borrower_id=loan.borrower_id, kind=kind, from_value="",
                     to_value=""))
    s.flush()

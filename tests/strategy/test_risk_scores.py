"""The risk score in strategy rules comes from the scores table (the loan's latest score, in per mille rounded
half up): a rule with a risk_score range matches a case whose loan has a stored score in the range, and never a
case without one. On SQLite and PostgreSQL."""

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select

from arrears.scores.tables import Score
from arrears.strategy.service import run_strategy
from arrears.strategy.tables import StrategyDecision
from strategy_helpers import one_strategy, open_case
from support import add_borrower, add_small_loan

DAY = date(2026, 3, 20)
NOW = datetime(2026, 3, 20, 14, 0, tzinfo=UTC)


def test_a_risk_score_range_matches_only_loans_with_a_score_in_it(db, tmp_path):
    config = one_strategy([{"name": "risky", "when": {"risk_score": {"min": 724}}, "actions": []}], tmp_path)
    # (probability stored, kind) per case; None: the loan has never been scored.
    scored = {"half_up": ("0.723500", "early_warning"), "below": ("0.723499", "early_warning"),
              "high": ("0.950000", "early_warning"), "unscored": None,
              # the newest score is propensity: risk is 1 − propensity = 0.2, below the range
              "paying": ("0.800000", "propensity")}
    ids = {}
    with db.session() as s:
        for i, (name, score) in enumerate(scored.items()):
            b = add_borrower(s, no=f"B{i}", id_number=f"11010119900307{i:04d}", phone=f"1381234{i:04d}")
            loan = add_small_loan(s, b, no=f"L{i}")
            ids[name] = open_case(s, b, loan, stage="phone").id
            if score is not None:
                s.add(Score(loan_id=loan.id, kind=score[1], as_of=date(2026, 3, 19), probability=Decimal(score[0]),
                            model_version="test-1"))
        # an older, risky early-warning score of the paying loan does not count
        s.add(Score(loan_id=_loan_of(s, ids["paying"]), kind="early_warning", as_of=date(2026, 3, 1),
                    probability=Decimal("0.990000"), model_version="test-1"))
        s.commit()
    with db.session() as s:
        run_strategy(s, DAY, config=config, now=NOW)
        s.commit()
    with db.session() as s:
        rules = dict(s.execute(select(StrategyDecision.case_id, StrategyDecision.rule)).all())
    assert {name: rules[case_id] for name, case_id in ids.items()} == {
        "half_up": "risky", "below": None, "high": "risky", "unscored": None, "paying": None}


def _loan_of(s, case_id: int) -> int:
    from arrears.cases.tables import Case

    return s.get(Case, case_id).loan_id

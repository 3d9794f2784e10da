"""Pre-due rules without a database: the reminder window and threshold as a property (any loans, dates,
windows and thresholds), the earliest instalment per loan, arms by loan, and what the rules file refuses."""

from datetime import date, timedelta

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.products.catalog import PolicyError
from arrears.strategy.compile import BP, arm_bp
from arrears.strategy.config import StrategyFile, load_strategy
from arrears.strategy.predue import FACTS, FIRST_DAY, evaluate_pre_due
from strategy_helpers import write_rules

SEND = [{"do": "send", "template": "pre_due_care", "channel": "sms"}]
HOLD = [{"name": "hold", "actions": []}]


def _file(window: int, thresholds: dict[str, int], share_bp: int = 0) -> StrategyFile:
    """Built straight from data (no file): a champion and, with ``share_bp``, a challenger."""
    strategies = [{"name": "standard", "role": "champion", "rules": HOLD,
                   "pre_due": [{"name": "care", "when": {"early_warning": {"min": thresholds["standard"]}},
                                "actions": SEND}]}]
    if share_bp:
        strategies.append({"name": "wide", "role": "challenger", "share_bp": share_bp, "rules": HOLD,
                           "pre_due": [{"name": "care_wide", "when": {"early_warning": {"min": thresholds["wide"]}},
                                        "actions": SEND}]})
    return StrategyFile.model_validate({
        "source": "test", "experiment": "exp-test", "send_at_local": "09:00", "strategies": strategies,
        "pre_delinquency": {"source": "test", "window_days": window, "score_max_age_days": 35}})


def _facts(rows: list[dict]) -> pa.Table:
    base = {"borrower_id": 1, "product_code": "consumer_loan", "instalment_no": 1, "amount_due_fen": 60_900,
            "early_warning": 500, "open_complaint": False, "language": "zh-CN", "timezone": "Asia/Shanghai"}
    return pa.Table.from_pylist([{**base, **r} for r in rows], schema=FACTS)


loans = st.lists(st.tuples(st.integers(-10, 40), st.one_of(st.none(), st.integers(0, 1000)),
                           st.integers(0, 200_000)), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(loans, st.integers(2, 31), st.integers(0, 1000), st.dates(date(2024, 1, 1), date(2030, 12, 31)))
def test_a_loan_is_reminded_iff_its_instalment_is_due_in_the_window_and_its_score_reaches_the_threshold(
        rows, window, threshold, day):
    config = _file(window, {"standard": threshold})
    facts = _facts([{"loan_id": i + 1, "due_on": day + timedelta(days=offset), "early_warning": score,
                     "amount_due_fen": amount} for i, (offset, score, amount) in enumerate(rows)])
    decided = evaluate_pre_due(facts, config, day)
    in_window = {i + 1 for i, (offset, _, amount) in enumerate(rows) if FIRST_DAY <= offset <= window and amount > 0}
    reminded = {i + 1 for i, (offset, score, amount) in enumerate(rows)
                if i + 1 in in_window and score is not None and score >= threshold}
    assert set(decided.column("loan_id").to_pylist()) == in_window
    assert {r["loan_id"] for r in decided.to_pylist() if r["rule_no"] is not None} == reminded
    assert all(FIRST_DAY <= d <= window for d in decided.column("days_to_due").to_pylist())


def test_the_earliest_instalment_still_to_pay_in_the_window_is_the_one_reminded():
    day = date(2026, 3, 1)
    facts = _facts([{"loan_id": 7, "instalment_no": 3, "due_on": date(2026, 3, 5)},
                    {"loan_id": 7, "instalment_no": 2, "due_on": date(2026, 3, 3), "amount_due_fen": 0},
                    {"loan_id": 7, "instalment_no": 4, "due_on": date(2026, 3, 6)}])
    decided = evaluate_pre_due(facts, _file(5, {"standard": 100}), day).to_pylist()
    assert [(r["loan_id"], r["due_on"], r["days_to_due"]) for r in decided] == [(7, date(2026, 3, 5), 4)]


@settings(max_examples=20, deadline=None)
@given(st.integers(0, BP), st.integers(0, 1000), st.integers(0, 1000))
def test_each_arm_applies_its_own_threshold_and_a_loan_keeps_its_arm(share_bp, champion, challenger):
    day = date(2026, 3, 1)
    config = _file(5, {"standard": champion, "wide": challenger}, share_bp)
    facts = _facts([{"loan_id": n, "due_on": date(2026, 3, 4), "early_warning": (n * 37) % 1001}
                    for n in range(1, 200)])
    for r in evaluate_pre_due(facts, config, day).to_pylist():
        arm = "wide" if arm_bp("exp-test:loan", r["loan_id"]) < share_bp else "standard"
        score = (r["loan_id"] * 37) % 1001
        assert r["strategy"] == arm
        assert (r["rule_no"] is not None) == (score >= (challenger if arm == "wide" else champion))


@pytest.mark.parametrize(("pre_due", "pre", "message"), [
    ([{"name": "r", "actions": SEND}], None, "need the pre_delinquency section"),
    ([{"name": "r", "actions": [{"do": "send", "template": "overdue_notice", "channel": "sms"}]}],
     {"source": "test", "window_days": 5, "score_max_age_days": 35}, "purpose is remind"),
    ([{"name": "r", "actions": [{"do": "send", "template": "pre_due_care", "channel": "sms",
                                 "variables": {"amount_due_fen": "instalment_no"}}]}],
     {"source": "test", "window_days": 5, "score_max_age_days": 35}, "variables.amount_due_fen"),
    ([{"name": "r", "actions": SEND}], {"source": "test", "window_days": 1, "score_max_age_days": 35}, "window_days"),
    ([{"name": "r", "when": {"early_warning": {"min": 200, "max": 100}}, "actions": SEND}],
     {"source": "test", "window_days": 5, "score_max_age_days": 35}, "min 200 is above max 100"),
])
def test_the_rules_file_refuses_bad_pre_due_rules_naming_the_field(tmp_path, pre_due, pre, message):
    top = {"pre_delinquency": pre} if pre else {}
    path = write_rules(tmp_path, [{"name": "solo", "role": "champion", "rules": HOLD, "pre_due": pre_due}], **top)
    with pytest.raises(PolicyError, match=message):
        load_strategy(path)


def test_the_packaged_rules_remind_before_the_due_date_in_both_arms():
    config = load_strategy()
    assert config.pre_delinquency is not None and config.pre_delinquency.window_days >= FIRST_DAY
    assert {s.name for _, s, _ in config.pre_due_rules()} == {s.name for s in config.strategies}

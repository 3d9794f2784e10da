"""Rule matching in SQL (DuckDB) equals a tiny pure-Python matcher: per condition, and by property over random
cases and random ranges; the first matching rule wins; a score condition never matches a case without one."""

from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arrears.strategy.evaluate import evaluate
from strategy_helpers import case, cases_table, events_table, one_strategy, python_match

DAY = date(2026, 3, 20)


def _rules(decided, config):
    names = {n: r.name for n, _, r in config.rules()}
    return {row["case_id"]: names.get(row["rule_no"]) for row in decided.to_pylist()}


def test_each_condition_selects_exactly_its_cases(tmp_path):
    config = one_strategy([
        {"name": "by_product", "when": {"products": ["credit_card"]}, "actions": []},
        {"name": "by_stage", "when": {"stages": ["legal"]}, "actions": []},
        {"name": "by_bucket", "when": {"buckets": ["severe"]}, "actions": []},
        {"name": "by_tier", "when": {"tiers": ["moderate"]}, "actions": []},
        {"name": "by_m_bucket", "when": {"m_buckets": ["M4"]}, "actions": []},
        {"name": "by_flag", "when": {"flags": {"promise_open": True}}, "actions": []},
        {"name": "by_event", "when": {"events": ["promise_broken", "bucket_up"]}, "actions": []},
        {"name": "by_age", "when": {"days_open": {"min": 30}}, "actions": []},
        {"name": "by_score", "when": {"risk_score": {"max": 300}}, "actions": []},
    ], tmp_path)
    rows = [case(1, product_code="credit_card"), case(2, stage="legal"), case(3, bucket="severe"),
            case(4, tier="moderate"), case(5, m_bucket="M4"), case(6, promise_open=True), case(7), case(8),
            case(9, opened_on=date(2026, 2, 1)), case(10, risk_score=250), case(11, risk_score=None),
            case(12, risk_score=301), case(13)]
    events = events_table([(7, "promise_broken"), (8, "bucket_up"), (13, "cured")])
    got = _rules(evaluate(cases_table(rows), events, config, DAY), config)
    assert got == {1: "by_product", 2: "by_stage", 3: "by_bucket", 4: "by_tier", 5: "by_m_bucket", 6: "by_flag",
                   7: "by_event", 8: "by_event", 9: "by_age", 10: "by_score", 11: None, 12: None, 13: None}


def test_the_first_matching_rule_in_file_order_wins(tmp_path):
    config = one_strategy([
        {"name": "narrow", "when": {"dpd": {"min": 31, "max": 60}}, "actions": []},
        {"name": "wide", "when": {"dpd": {"min": 1}}, "actions": []},
    ], tmp_path)
    got = _rules(evaluate(cases_table([case(1, dpd=40), case(2, dpd=5), case(3, dpd=0)]), events_table([]),
                          config, DAY), config)
    assert got == {1: "narrow", 2: "wide", 3: None}


bounds = st.one_of(st.none(), st.integers(0, 400))
money = st.one_of(st.none(), st.integers(0, 5_000_000))


def _range(lo, hi):  # noqa: ANN001, ANN202
    if lo is None and hi is None:
        return None
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    return {k: v for k, v in (("min", lo), ("max", hi)) if v is not None}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rules=st.lists(st.tuples(bounds, bounds, money, money, bounds, bounds,
                                st.sets(st.sampled_from(["phone", "reminder", "legal"]), max_size=2),
                                st.sets(st.sampled_from(["became_overdue", "bucket_up", "promise_kept"]), max_size=2),
                                st.sampled_from([None, True, False])), min_size=1, max_size=5),
       rows=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 5_000_000), st.one_of(st.none(), st.integers(0, 999)),
                               st.sampled_from(["phone", "reminder", "legal", "preparation"]), st.integers(0, 90),
                               st.booleans(),
                               st.sets(st.sampled_from(["became_overdue", "bucket_up", "promise_kept", "cured"]),
                                       max_size=2)), min_size=1, max_size=40))
def test_sql_evaluation_equals_the_python_matcher(tmp_path, rules, rows):
    spec = []
    for i, (d1, d2, m1, m2, s1, s2, stages, events, complaint) in enumerate(rules):
        when = {k: v for k, v in (("dpd", _range(d1, d2)), ("total_outstanding_fen", _range(m1, m2)),
                                  ("risk_score", _range(s1, s2)), ("stages", sorted(stages)),
                                  ("events", sorted(events))) if v}
        if complaint is not None:
            when["flags"] = {"open_complaint": complaint}
        spec.append({"name": f"r{i}", "when": when, "actions": []})
    config = one_strategy(spec, tmp_path)
    facts = [case(i + 1, dpd=dpd, total_outstanding_fen=fen, risk_score=score, stage=stage,
                  opened_on=date.fromordinal(DAY.toordinal() - age), open_complaint=complaint)
             for i, (dpd, fen, score, stage, age, complaint, _) in enumerate(rows)]
    happened = {i + 1: ev for i, (*_, ev) in enumerate(rows)}
    events = events_table([(cid, kind) for cid, kinds in happened.items() for kind in sorted(kinds)])
    got = _rules(evaluate(cases_table(facts), events, config, DAY), config)
    expected = {f["case_id"]: python_match(config, "solo", f, happened[f["case_id"]], DAY) for f in facts}
    assert got == expected

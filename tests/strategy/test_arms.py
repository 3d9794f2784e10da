"""Champion/challenger: the configured share of cases follows the challenger, chosen by a hash of the case id
and the experiment, the same every day and in any company of cases; a new experiment name reshuffles."""

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.strategy.compile import arm_bp
from arrears.strategy.config import load_strategy
from arrears.strategy.evaluate import evaluate
from strategy_helpers import case, cases_table, events_table, write_rules

DAY = date(2026, 3, 20)
RULE = {"name": "r1", "actions": []}


def _config(tmp_path, experiment="exp-a", shares=(2000,)):
    arms = [{"name": "champ", "role": "champion", "rules": [RULE]}]
    arms += [{"name": f"chal{i}", "role": "challenger", "share_bp": s, "rules": [RULE]} for i, s in enumerate(shares)]
    return load_strategy(write_rules(tmp_path, arms, experiment=experiment))


def _arms(config, ids, day=DAY):
    decided = evaluate(cases_table([case(i) for i in ids]), events_table([]), config, day)
    return dict(zip(decided.column("case_id").to_pylist(), decided.column("strategy").to_pylist()))


def test_the_challenger_gets_its_share(tmp_path):
    arms = _arms(_config(tmp_path), range(1, 20_001))
    challenged = sum(1 for s in arms.values() if s == "chal0")
    assert abs(challenged - 4_000) < 300  # 20 % of 20,000 within ~5 standard deviations


def test_two_challengers_split_by_their_shares(tmp_path):
    arms = _arms(_config(tmp_path, shares=(1000, 3000)), range(1, 20_001))
    counts = {name: sum(1 for s in arms.values() if s == name) for name in ("champ", "chal0", "chal1")}
    assert abs(counts["chal0"] - 2_000) < 250 and abs(counts["chal1"] - 6_000) < 350


@settings(max_examples=30, deadline=None)
@given(ids=st.sets(st.integers(1, 10**12), min_size=1, max_size=50), days=st.integers(1, 400))
def test_a_case_keeps_its_arm_every_day_and_in_any_company(ids, days):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        config = _config(Path(tmp))
    ids = sorted(ids)
    first = _arms(config, ids)
    later = _arms(config, list(reversed(ids))[: max(1, len(ids) // 2)], DAY + timedelta(days=days))
    assert all(first[i] == later[i] for i in later)
    # and it is the documented hash: md5("<experiment>:<case id>") modulo 10000 against the shares
    assert all(first[i] == ("chal0" if arm_bp("exp-a", i) < 2000 else "champ") for i in ids)


def test_a_new_experiment_reshuffles(tmp_path):
    ids = range(1, 2_001)
    a = _arms(_config(tmp_path, "exp-a"), ids)
    b = _arms(_config(tmp_path, "exp-b"), ids)
    assert sum(1 for i in ids if a[i] != b[i]) > 200

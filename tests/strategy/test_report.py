"""The arm report: cases per strategy from the recorded decisions, cures after the first decision, balance
placed at the first decision, payments collected from then on."""

from datetime import date

from arrears.cases.service import close_case
from arrears.loans.payments import post_payment
from arrears.strategy.compile import arm_bp
from arrears.strategy.config import load_strategy
from arrears.strategy.report import compare_arms
from arrears.strategy.service import run_strategy
from strategy_helpers import open_case, write_rules
from support import add_borrower, add_small_loan

D1, D2 = date(2026, 3, 20), date(2026, 3, 21)


def test_arms_are_compared_on_cures_and_collections(db, tmp_path):
    rule = {"name": "all", "actions": []}
    config = load_strategy(write_rules(tmp_path, [{"name": "champ", "role": "champion", "rules": [rule]},
                                                  {"name": "chal", "role": "challenger", "share_bp": 5000,
                                                   "rules": [rule]}], experiment="exp-r"))
    with db.session() as s:
        cases = []
        for i in range(8):
            b = add_borrower(s, no=f"B{i}", id_number=f"11010119900307{i:04d}", phone=f"1381234{i:04d}")
            loan = add_small_loan(s, b, no=f"L{i}")
            cases.append(open_case(s, b, loan, opened_on=D1, total_fen=100_000 + i))
        s.commit()
        ids = [(c.id, c.loan_id) for c in cases]
    with db.session() as s:
        run_strategy(s, D1, config=config)
        s.commit()
    with db.session() as s:
        post_payment(s, loan_id=ids[0][1], amount_fen=30_000, received_on=date(2026, 3, 1), idempotency_key="early",
                     actor="t", today=D2)  # before the first decision: not collected by the strategy
        post_payment(s, loan_id=ids[0][1], amount_fen=20_000, received_on=D2, idempotency_key="p0", actor="t",
                     today=D2)
        post_payment(s, loan_id=ids[1][1], amount_fen=7_000, received_on=D2, idempotency_key="p1", actor="t",
                     today=D2)
        for case_id, _ in ids[:3]:
            close_case(s, case_id=case_id, close_reason="cured", actor="t", expected_version=1, today=D2)
        s.commit()
    with db.session() as s:
        run_strategy(s, D2, config=config)  # the closed cases are not decided again; the rest are
        s.commit()
        got = {r["strategy"]: r for r in compare_arms(s, "exp-r")}

    arm = {case_id: "chal" if arm_bp("exp-r", case_id) < 5000 else "champ" for case_id, _ in ids}
    collected = {ids[0][0]: 20_000, ids[1][0]: 7_000}
    for name in set(arm.values()):
        mine = [i for i, (case_id, _) in enumerate(ids) if arm[case_id] == name]
        cured = sum(1 for i in mine if i < 3)
        row = got[name]
        assert (row["cases"], row["cured"]) == (len(mine), cured)
        assert row["cure_rate_bp"] == cured * 10_000 // len(mine)
        assert row["placed_fen"] == sum(100_000 + i for i in mine)
        assert row["collected_fen"] == sum(collected.get(ids[i][0], 0) for i in mine)
        assert row["role"] == ("champion" if name == "champ" else "challenger")
    assert set(got) == set(arm.values())

"""The SQL builder of the 24-month status string equals the plain-Python reference on random histories."""

from datetime import date

import duckdb
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.credit.policy import credit_policy, load_policy
from arrears.credit.status import MonthState, add_months, month_code, reference_string, status_strings, window

POLICY = credit_policy()
REPORT = date(2026, 3, 1)
MONTHS = window(REPORT)

month_index = st.integers(min_value=-3, max_value=23)
state = st.one_of(st.none(), st.builds(MonthState, dpd=st.integers(0, 400), fully_paid=st.booleans()))
account = st.fixed_dictionaries({
    "opened": month_index, "first_due_after": st.integers(0, 3), "closed": st.one_of(st.none(), month_index),
    "states": st.lists(state, min_size=24, max_size=24),
    "corrections": st.dictionaries(st.integers(0, 23), st.sampled_from(list("N12C")), max_size=2),
})


def _month(i: int) -> date:
    return add_months(MONTHS[0], i)


def _sql_strings(accounts: list[dict]) -> dict[int, str]:
    con = duckdb.connect()
    con.register("months", pa.table({"idx": pa.array(range(24), pa.int32()), "month": pa.array(MONTHS, pa.date32())}))
    con.register("acc", pa.table({
        "loan_id": pa.array(range(len(accounts)), pa.int64()),
        "opened_month": pa.array([_month(a["opened"]) for a in accounts], pa.date32()),
        "first_due_month": pa.array([_month(a["opened"] + a["first_due_after"]) for a in accounts], pa.date32()),
        "closed_month": pa.array([None if a["closed"] is None else _month(a["closed"]) for a in accounts],
                                 pa.date32())}))
    snaps = [(i, MONTHS[k], s.dpd, s.fully_paid) for i, a in enumerate(accounts)
             for k, s in enumerate(a["states"]) if s is not None]
    con.register("snaps", pa.table({"loan_id": pa.array([r[0] for r in snaps], pa.int64()),
                                    "month": pa.array([r[1] for r in snaps], pa.date32()),
                                    "dpd": pa.array([r[2] for r in snaps], pa.int32()),
                                    "fully_paid": pa.array([r[3] for r in snaps], pa.bool_())}))
    fixes = [(i, MONTHS[k], c) for i, a in enumerate(accounts) for k, c in a["corrections"].items()]
    con.register("fixes", pa.table({"loan_id": pa.array([r[0] for r in fixes], pa.int64()),
                                    "month": pa.array([r[1] for r in fixes], pa.date32()),
                                    "code": pa.array([r[2] for r in fixes], pa.string())}))
    rows = status_strings(con, POLICY, months="months", accounts="acc", snaps="snaps", corrections="fixes").fetchall()
    return {loan_id: (s, cur) for loan_id, s, cur in rows}


@settings(max_examples=60, deadline=None)
@given(st.lists(account, min_size=1, max_size=6))
def test_sql_equals_reference(accounts):
    got = _sql_strings(accounts)
    for i, a in enumerate(accounts):
        expected = reference_string(
            POLICY, REPORT, opened_on=_month(a["opened"]), first_due_on=_month(a["opened"] + a["first_due_after"]),
            closed_on=None if a["closed"] is None else _month(a["closed"]),
            states={MONTHS[k]: s for k, s in enumerate(a["states"]) if s is not None},
            corrections={MONTHS[k]: c for k, c in a["corrections"].items()})
        assert got[i] == (expected, expected[-1])
        assert len(expected) == 24 and set(expected) <= set(POLICY.status_codes.alphabet)


@given(st.integers(1, 2000))
def test_overdue_digits_step_by_thirty_days_and_stop_at_seven(dpd):
    code = month_code(POLICY, REPORT, opened_on=date(2020, 1, 1), first_due_on=date(2020, 2, 1), closed_on=None,
                      state=MonthState(dpd))
    bounds = [(1, 30), (31, 60), (61, 90), (91, 120), (121, 150), (151, 180)]
    expected = next((str(k + 1) for k, (lo, hi) in enumerate(bounds) if lo <= dpd <= hi), "7")
    assert code == expected


def test_policy_refuses_a_digit_letter(tmp_path):
    import pytest
    import yaml

    from arrears.credit.policy import PACKAGED
    from arrears.products.catalog import PolicyError

    data = yaml.safe_load(PACKAGED.read_text(encoding="utf-8"))
    data["status_codes"]["normal"] = "1"
    bad = tmp_path / "policy.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(PolicyError, match="status_codes"):
        load_policy(bad)
    del data["objection"]["source"]
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(PolicyError, match="objection.source"):
        load_policy(bad)

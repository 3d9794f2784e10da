"""The bulk guard's table interface, the compliance report and the benchmark."""

from __future__ import annotations

import bisect
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from compliance_helpers import PROFILES, SH, as_tuple, at, att, req
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.compliance.bench import portfolio, run_guard_bench
from arrears.compliance.bulk import DECISIONS, check_many, flags_table, history_table, requests_table
from arrears.compliance.guard import check
from arrears.compliance.localtime import offset_us, offsets_table, to_us
from arrears.compliance.report import compliance_report
from arrears.errors import InvalidInput


def _table(**changes) -> pa.Table:
    table = requests_table([req(at(SH, 2026, 3, 2, 10)), req(at(SH, 2026, 3, 2, 23))], ["cn-bank", "cn-bank"])
    for name, column in changes.items():
        if column is None:
            table = table.drop_columns([name])
        else:
            table = table.set_column(table.schema.get_field_index(name), name, column)
    return table


def test_decisions_come_back_in_request_order_with_the_request_id():
    table = _table().append_column("request_id", pa.array(["r1", "r2"]))
    out = check_many(table, None, None, PROFILES)
    assert out.column_names == ["request_id", *DECISIONS.names]
    assert out.column("request_id").to_pylist() == ["r1", "r2"]
    assert out.column("allowed").to_pylist() == [True, False]
    assert out.column("rule").to_pylist() == [None, "quiet_hours"]


def test_optional_columns_may_be_left_out():
    table = _table(agency_id=None, template_text=None, discloses_debt=None, amount_owed_fen=None, third_party_id=None)
    assert check_many(table, None, None, PROFILES).column("allowed").to_pylist() == [True, False]


@pytest.mark.parametrize(("changes", "field"), [
    ({"profile": pa.array(["cn-bank", "eu-gdpr"])}, "profile"),
    ({"method": pa.array(["call", "fax"])}, "method"),
    ({"purpose": pa.array(["collect", None])}, "purpose"),
    ({"borrower_tz": pa.array(["Asia/Shanghai", "Nowhere/City"])}, "borrower_tz"),
    ({"at": pa.array([datetime(2026, 3, 2, 10)] * 2)}, "at"),
    ({"loan_id": None}, "loan_id"),
    ({"party": pa.array(["debtor", "third_party"])}, "third_party_id"),
])
def test_bad_tables_name_the_column(changes, field):
    with pytest.raises(InvalidInput) as raised:
        check_many(_table(**changes), None, None, PROFILES)
    assert raised.value.field == field


def test_bad_history_names_the_column():
    history = history_table([att(at(SH, 2026, 3, 2, 9))])
    history = history.set_column(history.schema.get_field_index("outcome"), "outcome", pa.array(["asleep"]))
    with pytest.raises(InvalidInput, match="unknown outcome 'asleep'"):
        check_many(_table(), history, None, PROFILES)


def test_bulk_equals_single_on_the_benchmark_portfolio():
    requests, codes, attempts, flags = portfolio(1_500, seed=7)
    out = check_many(requests_table(requests, codes), history_table(attempts), flags_table(flags), PROFILES)
    flag_of = {f.borrower_id: f for f in flags}
    for request, code, row in zip(requests, codes, out.to_pylist()):
        single = check(request, tuple(a for a in attempts if a.borrower_id == request.borrower_id),
                       flag_of.get(request.borrower_id), PROFILES[code])
        assert (row["allowed"], row["rule"], tuple(row["broken"]), row["reason_zh"], row["reason_en"],
                row["next_allowed_at"]) == as_tuple(single)


def test_report_counts_blocked_attempts_by_rule_profile_and_method():
    requests = [req(at(SH, 2026, 3, 2, 10)), req(at(SH, 2026, 3, 2, 23)), req(at(SH, 2026, 3, 2, 23), method="sms"),
                req(at(SH, 2026, 3, 2, 23), template_text="老赖")]
    decisions = check_many(requests_table(requests, ["cn-bank", "cn-bank", "cn-internet", "cn-bank"]), None, None,
                           PROFILES)
    report = compliance_report(decisions)
    assert (report.requests, report.blocked) == (4, 3)
    assert report.by_rule.to_pylist() == [{"rule": "quiet_hours", "blocked": 2},
                                          {"rule": "content.insult", "blocked": 1}]
    assert report.by_rule_any.to_pylist() == [{"rule": "quiet_hours", "blocked": 3},
                                              {"rule": "content.insult", "blocked": 1}]
    assert report.by_profile_method.to_pylist() == [
        {"profile": "cn-bank", "method": "call", "rule": "content.insult", "blocked": 1},
        {"profile": "cn-bank", "method": "call", "rule": "quiet_hours", "blocked": 1},
        {"profile": "cn-internet", "method": "sms", "rule": "quiet_hours", "blocked": 1}]
    with pytest.raises(InvalidInput):
        compliance_report(decisions.drop_columns(["profile"]))


def test_bench_returns_its_figures():
    figures = run_guard_bench(400, single_sample=100)
    assert figures["requests"] == 400 and figures["guard_bulk_per_s"] > 0
    assert 0 < figures["guard_single_p99_ms"] < 1_000


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["Australia/Adelaide", "Pacific/Chatham", "America/Sao_Paulo", "Europe/London",
                        "America/New_York", "Asia/Kolkata", "Asia/Shanghai"]),
       st.integers(0, 3 * 366 * 24 * 3600))
def test_zone_offsets_table_agrees_with_zoneinfo(zone_name, seconds):
    when_us = to_us(datetime(2025, 1, 1, tzinfo=UTC)) + seconds * 1_000_000
    table = offsets_table({zone_name}, when_us, when_us)
    starts = table.column("from_us").to_pylist()
    offset = table.column("off_us")[bisect.bisect_right(starts, when_us) - 1].as_py()
    assert offset == offset_us(ZoneInfo(zone_name), when_us)

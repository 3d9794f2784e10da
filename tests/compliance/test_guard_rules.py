"""Hand examples: each rule blocks what it must and allows what it may (every example also runs in bulk)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from compliance_helpers import NY, PROFILES, SH, at, att, both, flags, req

from arrears.compliance.guard import check
from arrears.compliance.model import BorrowerFlags
from arrears.errors import InvalidInput

# --- quiet hours (borrower's local time) -------------------------------------------------------------


@pytest.mark.parametrize("profile", ["cn-bank", "cn-internet"])
@pytest.mark.parametrize(("hour", "minute", "allowed"), [(21, 59, True), (22, 0, False), (7, 59, False),
                                                          (8, 0, True), (0, 0, False), (12, 0, True)])
def test_cn_quiet_hours_edges_in_shanghai(profile, hour, minute, allowed):
    d = both(req(at(SH, 2026, 3, 2, hour, minute)), profile=profile)
    assert d.allowed is allowed
    if not allowed:
        assert d.rule == "quiet_hours" and "22:00–08:00" in d.reason_zh
        day = 2 if hour < 8 else 3
        assert d.next_allowed_at == at(SH, 2026, 3, day, 8).astimezone(UTC)


@pytest.mark.parametrize("tz", [SH, NY])
@pytest.mark.parametrize(("hour", "minute", "allowed"), [(20, 59, True), (21, 0, False), (21, 59, False),
                                                          (22, 0, False), (7, 59, False), (8, 0, True)])
def test_us_regf_quiet_hours_edges(tz, hour, minute, allowed):
    d = both(req(at(tz, 2026, 6, 10, hour, minute)), profile="us-regf")
    assert d.allowed is allowed
    assert allowed or d.rule == "quiet_hours"


def test_quiet_hours_follow_new_york_across_the_dst_change():
    # 2026-03-08: clocks go 02:00 EST -> 03:00 EDT. 12:00 UTC is 07:00 the day before, 08:00 that day.
    assert not both(req(datetime(2026, 3, 7, 12, 0, tzinfo=UTC), borrower_tz="America/New_York"),
                    profile="us-regf").allowed
    assert both(req(datetime(2026, 3, 8, 12, 0, tzinfo=UTC), borrower_tz="America/New_York"),
                profile="us-regf").allowed
    late = both(req(at(NY, 2026, 3, 8, 7, 59)), profile="us-regf")
    assert late.rule == "quiet_hours" and late.next_allowed_at == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
    # the evening before the change: released at 08:00 EDT, 11 hours (not 12) later by the clock
    evening = both(req(at(NY, 2026, 3, 7, 21, 30)), profile="us-regf")
    assert evening.next_allowed_at == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
    # 2026-11-01: back to EST; 08:00 local is 13:00 UTC
    assert not both(req(datetime(2026, 11, 1, 12, 59, tzinfo=UTC), borrower_tz="America/New_York"),
                    profile="us-regf").allowed
    assert both(req(datetime(2026, 11, 1, 13, 0, tzinfo=UTC), borrower_tz="America/New_York"),
                profile="us-regf").allowed


def test_letters_are_not_bound_by_quiet_hours():
    assert both(req(at(SH, 2026, 3, 2, 23, 30), method="letter")).allowed


# --- per-day caps ------------------------------------------------------------------------------------


def test_cn_bank_sixth_unanswered_call_allowed_seventh_refused():
    five = [att(at(SH, 2026, 3, 2, 9, i)) for i in range(5)]
    assert both(req(at(SH, 2026, 3, 2, 10)), five).allowed
    six = [*five, att(at(SH, 2026, 3, 2, 9, 30), "busy")]
    d = both(req(at(SH, 2026, 3, 2, 10)), six)
    assert d.rule == "daily_cap.unanswered_per_method" and "6" in d.reason_zh
    assert d.next_allowed_at == at(SH, 2026, 3, 3, 8).astimezone(UTC)  # tomorrow, after quiet hours


def test_cn_bank_cap_is_per_method_and_counts_unanswered_only():
    six_sms = [att(at(SH, 2026, 3, 2, 9, i), "sent", method="sms") for i in range(6)]
    assert both(req(at(SH, 2026, 3, 2, 10)), six_sms).allowed  # a call: other method
    assert both(req(at(SH, 2026, 3, 2, 10), method="sms"), six_sms).rule == "daily_cap.unanswered_per_method"
    six_connected = [att(at(SH, 2026, 3, 2, 9, i), "connected") for i in range(6)]
    assert both(req(at(SH, 2026, 3, 2, 10)), six_connected).allowed


def test_cn_bank_cap_counts_the_bank_and_agencies_together():
    history = [att(at(SH, 2026, 3, 2, 9, i), agency_id=(7 if i % 2 else None)) for i in range(6)]
    assert not both(req(at(SH, 2026, 3, 2, 10), agency_id=8), history).allowed


def test_the_day_boundary_is_the_borrowers_midnight():
    # 23:30 Shanghai on 1 March is 15:30 UTC; 00:30 Shanghai on 2 March is 16:30 UTC on 1 March
    yesterday = [att(at(SH, 2026, 3, 1, 23, i)) for i in range(6)]
    assert both(req(at(SH, 2026, 3, 2, 9)), yesterday).allowed
    after_midnight = [att(at(SH, 2026, 3, 2, 0, i)) for i in range(6)]
    assert both(req(at(SH, 2026, 3, 2, 9)), after_midnight).rule == "daily_cap.unanswered_per_method"


def test_later_attempts_and_other_borrowers_do_not_count():
    later = [att(at(SH, 2026, 3, 2, 11, i)) for i in range(6)]
    other = [att(at(SH, 2026, 3, 2, 9, i), borrower_id=2) for i in range(6)]
    assert both(req(at(SH, 2026, 3, 2, 10)), later + other).allowed


def test_cn_internet_connected_call_cap_across_agencies():
    two = [att(at(SH, 2026, 3, 2, 9), "connected"), att(at(SH, 2026, 3, 2, 10), "promise", agency_id=3)]
    assert both(req(at(SH, 2026, 3, 2, 11)), two, profile="cn-internet").allowed
    three = [*two, att(at(SH, 2026, 3, 2, 10, 30), "refused", agency_id=4)]
    d = both(req(at(SH, 2026, 3, 2, 11)), three, profile="cn-internet")
    assert d.rule == "daily_cap.connected_calls"
    assert both(req(at(SH, 2026, 3, 2, 11), method="sms"), three, profile="cn-internet").allowed
    unanswered = [att(at(SH, 2026, 3, 2, 9, i)) for i in range(10)]
    assert both(req(at(SH, 2026, 3, 2, 11)), unanswered, profile="cn-internet").allowed


# --- us-regf rolling window and cool-off -------------------------------------------------------------


def test_us_regf_seven_calls_in_seven_days_per_debt():
    six = [att(at(NY, 2026, 6, 4 + i, 10)) for i in range(6)]  # 4..9 June
    assert both(req(at(NY, 2026, 6, 10, 10)), six, profile="us-regf").allowed
    seven = [*six, att(at(NY, 2026, 6, 10, 9))]
    d = both(req(at(NY, 2026, 6, 10, 10)), seven, profile="us-regf")
    assert d.rule == "rolling_cap.calls_7_days"
    assert d.next_allowed_at == at(NY, 2026, 6, 11, 8).astimezone(UTC)  # 4 June leaves the window
    moved = [att(at(NY, 2026, 6, 3, 10)), *six[1:], att(at(NY, 2026, 6, 10, 9))]  # oldest on day D-7
    assert both(req(at(NY, 2026, 6, 10, 10)), moved, profile="us-regf").allowed
    other_debt = [*six, att(at(NY, 2026, 6, 10, 9), loan_id=2)]
    assert both(req(at(NY, 2026, 6, 10, 10)), other_debt, profile="us-regf").allowed
    not_connected = [*six, att(at(NY, 2026, 6, 10, 9), "busy")]
    assert both(req(at(NY, 2026, 6, 10, 10)), not_connected, profile="us-regf").allowed


def test_us_regf_no_call_within_seven_days_after_a_conversation():
    talk = [att(at(NY, 2026, 6, 4, 15), "connected")]
    d = both(req(at(NY, 2026, 6, 10, 10)), talk, profile="us-regf")  # day 7 counting 4 June as day 1
    assert d.rule == "cooldown.after_conversation"
    assert d.next_allowed_at == at(NY, 2026, 6, 11, 8).astimezone(UTC)
    assert both(req(at(NY, 2026, 6, 11, 8)), talk, profile="us-regf").allowed
    assert both(req(at(NY, 2026, 6, 5, 10), method="email"), talk, profile="us-regf").allowed


# --- third parties -----------------------------------------------------------------------------------


def _failed(n: int, day: int = 2) -> list:
    return [att(at(SH, 2026, 3, day, 9, i)) for i in range(n)]


def test_cn_bank_third_party_only_after_three_consecutive_failed_contacts():
    third = req(at(SH, 2026, 3, 3, 10), party="third_party")
    assert both(third, _failed(2)).rule == "third_party.debtor_reachable"
    assert both(third, _failed(3)).allowed
    answered_last = [*_failed(3), att(at(SH, 2026, 3, 2, 12), "connected")]
    assert both(third, answered_last).rule == "third_party.debtor_reachable"
    failed_since = [*answered_last, *(att(at(SH, 2026, 3, 2, 13, i)) for i in range(3))]
    assert both(third, failed_since).allowed


def test_cn_bank_third_party_purpose_and_disclosure():
    history = _failed(3)
    assert both(req(at(SH, 2026, 3, 3, 10), party="third_party", purpose="collect"), history).rule == \
        "third_party.purpose"
    told = both(req(at(SH, 2026, 3, 3, 10), party="third_party", discloses_debt=True), history)
    assert told.rule == "third_party.disclosure" and told.next_allowed_at is None
    text = both(req(at(SH, 2026, 3, 3, 10), party="third_party", purpose="pass_message",
                    template_text="请转告张三,他的欠款已经逾期。"), history)
    assert text.rule == "third_party.disclosure"
    ok = both(req(at(SH, 2026, 3, 3, 10), party="third_party", purpose="pass_message",
                  template_text="请转告张三尽快回电,谢谢。"), history)
    assert ok.allowed


def test_cn_internet_never_contacts_third_parties():
    d = both(req(at(SH, 2026, 3, 3, 10), party="third_party"), _failed(5), profile="cn-internet")
    assert d.rule == "third_party.forbidden"


def test_us_regf_location_contact_once_per_person():
    first = req(at(NY, 2026, 6, 10, 10), party="third_party", third_party_id="neighbour")
    assert both(first, profile="us-regf").allowed
    before = [att(at(NY, 2026, 6, 1, 10), "connected", party="third_party", third_party_id="neighbour")]
    assert both(first, before, profile="us-regf").rule == "third_party.repeat"
    assert both(req(at(NY, 2026, 6, 10, 10), party="third_party", third_party_id="aunt"), before,
                profile="us-regf").allowed
    assert both(req(at(NY, 2026, 6, 10, 10), party="third_party", purpose="pass_message"),
                profile="us-regf").rule == "third_party.purpose"


# --- freezes -----------------------------------------------------------------------------------------


def test_do_not_contact_blocks_everything_with_no_next_time():
    for purpose in ("collect", "complaint_response", "agreement_service"):
        d = both(req(at(SH, 2026, 3, 2, 10), purpose=purpose), flag=flags(do_not_contact=True))
        assert d.rule == "do_not_contact" and d.next_allowed_at is None


def test_open_complaint_freezes_collection_but_not_the_complaint_itself():
    f = flags(open_complaint=True)
    assert both(req(at(SH, 2026, 3, 2, 10)), flag=f).rule == "open_complaint"
    assert both(req(at(SH, 2026, 3, 2, 10), purpose="complaint_response"), flag=f).allowed


def test_signed_agreement_stops_collection_but_not_its_own_notices():
    f = flags(signed_agreement_with_collection_stop=True)
    assert both(req(at(SH, 2026, 3, 2, 10), purpose="remind"), flag=f).rule == "collection_stopped"
    assert both(req(at(SH, 2026, 3, 2, 10), purpose="agreement_service"), flag=f).allowed


def test_a_refusal_names_the_first_rule_and_lists_all():
    d = both(req(at(SH, 2026, 3, 2, 23), template_text="老赖,后果自负"), _failed(6), flags(open_complaint=True))
    assert d.rule == "open_complaint"
    assert d.broken == ("open_complaint", "content.threat", "content.insult", "quiet_hours",
                        "daily_cap.unanswered_per_method")
    assert d.next_allowed_at is None  # time alone does not lift a freeze
    timed = both(req(at(SH, 2026, 3, 2, 23)), _failed(6))
    assert timed.broken == ("quiet_hours", "daily_cap.unanswered_per_method")
    assert timed.next_allowed_at == at(SH, 2026, 3, 3, 8).astimezone(UTC)


def test_flags_of_another_borrower_are_refused():
    with pytest.raises(InvalidInput):
        check(req(at(SH, 2026, 3, 2, 10)), (), BorrowerFlags(borrower_id=9), PROFILES["cn-bank"])


def test_next_allowed_at_waits_for_the_cap_and_then_the_quiet_hours():
    d = both(req(at(SH, 2026, 3, 2, 10)), _failed(6))
    assert d.next_allowed_at - at(SH, 2026, 3, 2, 10) == timedelta(hours=22)

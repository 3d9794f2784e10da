"""Properties over random times, histories, flags and texts: bulk equals single; a refusal's rules really
are broken (checked by a plain, independent reading of each rule); more history never turns a refusal
into an allow; quiet hours are never allowed; next_allowed_at is the first moment time alone allows."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from compliance_helpers import PROFILES, as_tuple
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arrears.compliance.bulk import check_many, flags_table, history_table, requests_table
from arrears.compliance.content import stated_amounts_fen
from arrears.compliance.guard import check
from arrears.compliance.model import (
    BorrowerFlags,
    ContactAttempt,
    ContactRequest,
    Method,
    Outcome,
    Party,
    Purpose,
)

ZONES = ["Asia/Shanghai", "America/New_York", "Europe/London"]
BASE = datetime(2026, 1, 1, tzinfo=UTC)
FRAGMENTS = ["您好,", "本期应还1,234.56元。", "总欠款2万元", "¥300", "请尽快联系我们。", "否则后果自负", "老赖",
             "打死你", "我是法院的", "征信黑名单", "坐牢", "去别的平台借", "另收手续费", "逾期", "Pay $12.50 now",
             "or else", "you owe us", "arrest", "请转告他回电", "谢谢"]
SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

moments = st.builds(lambda m, s: BASE + timedelta(minutes=m, seconds=s),
                    st.integers(0, 364 * 24 * 60), st.sampled_from([0, 0, 0, 30, 59]))
texts = st.none() | st.lists(st.sampled_from(FRAGMENTS), max_size=3).map("".join)


@st.composite
def attempts(draw, at: datetime, borrowers=(1,)):
    party = draw(st.sampled_from([Party.debtor] * 4 + [Party.third_party]))
    return ContactAttempt(
        borrower_id=draw(st.sampled_from(borrowers)), loan_id=draw(st.sampled_from([1, 2])),
        method=draw(st.sampled_from([Method.call, Method.call, Method.sms, Method.visit, Method.email])),
        party=party, outcome=draw(st.sampled_from(list(Outcome))),
        at=at - timedelta(minutes=draw(st.integers(-24 * 60, 9 * 24 * 60) | st.integers(1, 10 * 60))),  # bursts
        agency_id=draw(st.sampled_from([None, 1, 2])),
        third_party_id=draw(st.sampled_from(["a", "b"])) if party is Party.third_party else None)


@st.composite
def requests(draw, borrower: int = 1, zone: str | None = None, at: datetime | None = None):
    party = draw(st.sampled_from([Party.debtor] * 3 + [Party.third_party]))
    owed = draw(st.sampled_from([None, 123_456, 2_000_000, 30_000, 1_250]))
    return ContactRequest(
        case_id=borrower, loan_id=draw(st.sampled_from([1, 2])), borrower_id=borrower,
        borrower_tz=zone or draw(st.sampled_from(ZONES)),
        method=draw(st.sampled_from([Method.call, Method.call, Method.sms, Method.letter, Method.app])), party=party,
        purpose=draw(st.sampled_from(list(Purpose))), at=at or draw(moments),
        agency_id=draw(st.sampled_from([None, 1, 2])),
        template_text=draw(texts), discloses_debt=draw(st.booleans()) if party is Party.third_party else False,
        amount_owed_fen=owed, third_party_id=draw(st.sampled_from(["a", "b"])) if party is Party.third_party else None)


def _flags(borrower: int):
    return st.none() | st.builds(BorrowerFlags, st.just(borrower), st.booleans(), st.booleans(), st.booleans())


@st.composite
def calls(draw, at: datetime, within_minutes: int, outcomes: list[Outcome]):
    """Debtor calls packed before ``at``: enough to reach the frequency caps."""
    return ContactAttempt(
        borrower_id=1, loan_id=draw(st.sampled_from([1, 1, 2])), method=Method.call, party=Party.debtor,
        outcome=draw(st.sampled_from(outcomes)),
        at=at - timedelta(minutes=draw(st.integers(1, within_minutes))), agency_id=draw(st.sampled_from([None, 1])))


@st.composite
def scenarios(draw):
    request = draw(requests())
    if draw(st.booleans()):
        history = tuple(draw(st.lists(attempts(request.at), max_size=16)))
    else:
        fields = {f: getattr(request, f) for f in request.__slots__}
        request = ContactRequest(**{**fields, "party": Party.debtor, "method": Method.call, "third_party_id": None,
                                    "discloses_debt": False, "template_text": None})
        window = draw(st.sampled_from([10 * 60, 7 * 24 * 60]))
        outcomes = draw(st.sampled_from([[Outcome.no_answer, Outcome.busy], [Outcome.connected, Outcome.promise],
                                         [Outcome.no_answer, Outcome.connected, Outcome.busy, Outcome.promise]]))
        history = tuple(draw(st.lists(calls(request.at, window, outcomes), min_size=2, max_size=12)))
    flag = draw(st.none() | st.none() | _flags(1))
    return request, history, flag, draw(st.sampled_from(sorted(PROFILES)))


@settings(SETTINGS, max_examples=40)
@given(st.data())
def test_bulk_equals_single(data):
    zone_of = {b: data.draw(st.sampled_from(ZONES)) for b in (1, 2, 3)}
    anchor = data.draw(moments)
    reqs = [data.draw(requests(b, zone_of[b], anchor + timedelta(minutes=data.draw(st.integers(0, 3 * 24 * 60)))))
            for b in data.draw(st.lists(st.sampled_from([1, 2, 3]), min_size=1, max_size=8))]
    history = data.draw(st.lists(attempts(anchor + timedelta(days=2), (1, 2, 3, 4)), max_size=30))
    history += data.draw(st.lists(calls(anchor + timedelta(days=2), 4 * 24 * 60, list(Outcome)), max_size=14))
    flags = [f for b in (1, 2, 3) if (f := data.draw(st.none() | _flags(b))) is not None]
    codes = [data.draw(st.sampled_from(sorted(PROFILES))) for _ in reqs]
    table = check_many(requests_table(reqs, codes), history_table(history), flags_table(flags), PROFILES)
    flag_of = {f.borrower_id: f for f in flags}
    for request, code, row in zip(reqs, codes, table.to_pylist()):
        single = check(request, tuple(history), flag_of.get(request.borrower_id), PROFILES[code])
        bulk = (row["allowed"], row["rule"], tuple(row["broken"]), row["reason_zh"], row["reason_en"],
                row["next_allowed_at"])
        assert bulk == as_tuple(single)


def _local(when: datetime, zone: str):
    return when.astimezone(ZoneInfo(zone))


def _witness(rule: str, r: ContactRequest, history, flag, code: str) -> bool:
    """A plain reading of the rule, written apart from the guard."""
    p = PROFILES[code]
    spec, tp = p.spec, p.spec.third_party
    prior = [h for h in history if h.borrower_id == r.borrower_id and h.at < r.at]
    if rule in ("do_not_contact", "open_complaint", "collection_stopped"):
        flag_name = {"collection_stopped": "signed_agreement_with_collection_stop"}.get(rule, rule)
        return bool(flag and getattr(flag, flag_name)) and r.purpose not in p.forbidden.freezes[rule].allowed_purposes
    if rule.startswith("third_party."):
        if r.party is not Party.third_party:
            return False
        if rule == "third_party.forbidden":
            return not tp.allowed
        if rule == "third_party.disclosure":
            pats = p.forbidden.third_party_disclosure.patterns
            return r.discloses_debt or any(re.search(x, r.template_text or "", re.IGNORECASE) for x in pats)
        if rule == "third_party.purpose":
            return r.purpose not in tp.purposes
        if rule == "third_party.repeat":
            return len([h for h in prior if h.third_party_id == r.third_party_id]) >= tp.max_contacts_per_person
        tries = sorted((h for h in prior if h.party is Party.debtor and h.method in tp.failed_contact_methods),
                       key=lambda h: (h.at, h.outcome not in tp.failed_outcomes))  # a tie: the answer last
        run = 0
        for h in tries:
            run = run + 1 if h.outcome in tp.failed_outcomes else 0
        return run < tp.after_failed_contacts
    if rule == "content.false_amount":
        amounts = stated_amounts_fen(p, r.template_text or "")
        return bool(amounts) and (r.amount_owed_fen is None or set(amounts) != {r.amount_owed_fen})
    if rule.startswith("content."):
        pats = next(c.patterns for c in p.forbidden.content if f"content.{c.rule}" == rule)
        return any(re.search(x, r.template_text or "", re.IGNORECASE) for x in pats)
    local = _local(r.at, r.borrower_tz)
    if rule == "quiet_hours":
        now = local.time()
        for w in spec.quiet_hours.windows:
            start, end = time.fromisoformat(w.start), time.fromisoformat(w.end)
            inside = start <= now < end if start < end else now >= start or now < end
            if r.method in spec.quiet_hours.methods and inside:
                return True
        return False
    cap = next(c for c in spec.caps if c.rule == rule)
    first_day = local.date() - timedelta(days=cap.days - 1)
    counted = [h for h in prior if first_day <= _local(h.at, r.borrower_tz).date() <= local.date()
               and h.party in cap.parties and h.outcome in cap.outcomes
               and (h.method == r.method if cap.per_method else h.method in cap.methods)
               and (cap.scope == "debtor" or h.loan_id == r.loan_id)
               and (cap.agencies == "together" or h.agency_id == r.agency_id)]
    return r.method in cap.methods and r.party in cap.parties and len(counted) >= cap.limit


@settings(SETTINGS, max_examples=300)
@given(scenarios())
def test_every_rule_a_refusal_names_is_really_broken(scenario):
    request, history, flag, code = scenario
    d = check(request, history, flag, PROFILES[code])
    assert d.allowed == (not d.broken) and d.rule == (d.broken[0] if d.broken else None)
    for rule in d.broken:
        assert _witness(rule, request, history, flag, code), rule
    for rule in set(PROFILES[code].rules) - set(d.broken):  # and nothing broken is left out
        assert not _witness(rule, request, history, flag, code), rule


@settings(SETTINGS, max_examples=200)
@given(scenarios(), st.data())
def test_more_history_never_turns_a_refusal_into_an_allow(scenario, data):
    request, history, flag, code = scenario
    tp = PROFILES[code].spec.third_party
    extra = data.draw(st.lists(attempts(request.at), min_size=1, max_size=6))
    if request.party is Party.third_party:  # failed debtor contacts are what opens third-party contact
        extra = [h for h in extra if not (h.party is Party.debtor and h.outcome in tp.failed_outcomes)]
    before = check(request, history, flag, PROFILES[code])
    after = check(request, history + tuple(extra), flag, PROFILES[code])
    assert set(before.broken) <= set(after.broken)
    assert before.allowed or not after.allowed


@settings(SETTINGS, max_examples=200)
@given(scenarios(), st.integers(0, 364), st.data())
def test_quiet_hours_are_never_allowed(scenario, day, data):
    request, history, flag, code = scenario
    quiet = PROFILES[code].spec.quiet_hours
    window = data.draw(st.sampled_from(quiet.windows))
    start, end = (int(v[:2]) * 60 + int(v[3:]) for v in (window.start, window.end))
    minute = data.draw(st.integers(start, start + (end - start) % 1440 - 1)) % 1440
    local = datetime(2026, 1, 1) + timedelta(days=day, minutes=minute)
    when = local.replace(tzinfo=ZoneInfo(request.borrower_tz))
    if when.astimezone(UTC).astimezone(when.tzinfo).replace(tzinfo=None) != local:
        return  # a wall time the DST change skips does not exist
    method = data.draw(st.sampled_from(quiet.methods))
    fields = {f: getattr(request, f) for f in request.__slots__}
    d = check(ContactRequest(**{**fields, "at": when, "method": method}), history, flag, PROFILES[code])
    assert not d.allowed and "quiet_hours" in d.broken


@settings(SETTINGS, max_examples=200)
@given(scenarios())
def test_next_allowed_at_is_the_first_moment_time_allows(scenario):
    request, history, flag, code = scenario
    history = tuple(h for h in history if h.at < request.at)  # later attempts would count at a later time
    d = check(request, history, flag, PROFILES[code])
    if d.next_allowed_at is None:
        assert d.allowed or not all(PROFILES[code].rules[r].time_based for r in d.broken)
        return
    fields = {f: getattr(request, f) for f in request.__slots__}
    assert d.next_allowed_at > request.at
    assert check(ContactRequest(**{**fields, "at": d.next_allowed_at}), history, flag, PROFILES[code]).allowed
    just_before = ContactRequest(**{**fields, "at": d.next_allowed_at - timedelta(microseconds=1)})
    assert not check(just_before, history, flag, PROFILES[code]).allowed

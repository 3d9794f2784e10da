"""The contact guard for one request: ``check(request, history, flags, profile) -> Decision``.

Every rule is evaluated; a refusal names the first broken rule in ``policy.RULE_ORDER_DOC`` order and lists
them all. Only earlier attempts count (``attempt.at < request.at``), of the request's borrower. Days are
the borrower's local calendar days. ``bulk.check_many`` computes exactly the same for a whole table.

next_allowed_at (only when every broken rule is quiet hours or a cap): caps are lifted at the local
midnight of a later day (the day the oldest counted attempts fall out of the window); from there, or
from the request time when only quiet hours are broken, the end of the quiet window.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from zoneinfo import ZoneInfo

from arrears.compliance.content import content_hits, false_amount, mentions_debt
from arrears.compliance.localtime import DAY_US, from_us, local_us, to_us, wall_to_us
from arrears.compliance.model import (
    BorrowerFlags,
    ContactAttempt,
    ContactRequest,
    Decision,
    Method,
    Party,
    zone,
)
from arrears.compliance.policy import Cap, Profile
from arrears.errors import InvalidInput

FREEZE_FLAGS = (("do_not_contact", "do_not_contact"), ("open_complaint", "open_complaint"),
                ("collection_stopped", "signed_agreement_with_collection_stop"))


def quiet_applies(profile: Profile, method: Method | str) -> bool:
    return method in profile.spec.quiet_hours.methods


def quiet_window_at(profile: Profile, tz: ZoneInfo, at_us: int) -> tuple[int, int] | None:
    """(window index, local day its end falls on) of the quiet window the instant is in, if any."""
    day, tod = divmod(local_us(tz, at_us), DAY_US)
    for i, window in enumerate(profile.spec.quiet_hours.windows):
        start, end = window.us()
        if start < end and start <= tod < end:
            return i, day
        if start > end and (tod >= start or tod < end):
            return i, day + 1 if tod >= start else day
    return None


def release_from(profile: Profile, tz: ZoneInfo, end_day: int, index: int) -> int:
    """The end of quiet window ``index`` on ``end_day``, continuing through any window adjacent to it."""
    windows = profile.spec.quiet_hours.windows
    t = wall_to_us(tz, end_day, windows[index].us()[1])
    for _ in windows:
        hit = quiet_window_at(profile, tz, t)
        if hit is None:
            break
        t = wall_to_us(tz, hit[1], windows[hit[0]].us()[1])
    return t


def quiet_release(profile: Profile, tz: ZoneInfo, at_us: int) -> int:
    hit = quiet_window_at(profile, tz, at_us)
    return at_us if hit is None else release_from(profile, tz, hit[1], hit[0])


def day_open(profile: Profile, tz: ZoneInfo, day: int, method: Method | str) -> int:
    """The first instant of a local day at which the method is outside quiet hours."""
    midnight = wall_to_us(tz, day, 0)
    return quiet_release(profile, tz, midnight) if quiet_applies(profile, method) else midnight


def _third_party(request: ContactRequest, prior: list[ContactAttempt], profile: Profile) -> list[str]:
    tp = profile.spec.third_party
    broken = []
    if not tp.allowed:
        broken.append("third_party.forbidden")
    text_discloses = request.template_text is not None and mentions_debt(profile, request.template_text)
    if request.discloses_debt or text_discloses:
        broken.append("third_party.disclosure")
    if not tp.allowed:
        return broken
    if request.purpose not in tp.purposes:
        broken.append("third_party.purpose")
    if tp.after_failed_contacts is not None:
        tries = [h for h in prior if h.party is Party.debtor and h.method in tp.failed_contact_methods]
        answered = [to_us(h.at) for h in tries if h.outcome not in tp.failed_outcomes]
        since = max(answered) if answered else None
        # consecutive failures: those after the last attempt that did not fail
        failed = sum(1 for h in tries if h.outcome in tp.failed_outcomes and (since is None or to_us(h.at) > since))
        if failed < tp.after_failed_contacts:
            broken.append("third_party.debtor_reachable")
    if tp.max_contacts_per_person is not None:
        earlier = sum(1 for h in prior if h.party is Party.third_party and h.third_party_id == request.third_party_id)
        if earlier >= tp.max_contacts_per_person:
            broken.append("third_party.repeat")
    return broken


def _counted(cap: Cap, request: ContactRequest, h: ContactAttempt) -> bool:
    return (h.party in cap.parties and h.outcome in cap.outcomes
            and (h.method is request.method if cap.per_method else h.method in cap.methods)
            and (cap.scope == "debtor" or h.loan_id == request.loan_id)
            and (cap.agencies == "together" or h.agency_id == request.agency_id))


def cap_reset_day(cap: Cap, request: ContactRequest, prior: list[ContactAttempt], tz: ZoneInfo,
                  day: int) -> int | None:
    """None if the cap does not block; else the local day from which it no longer does."""
    if request.method not in cap.methods or request.party not in cap.parties:
        return None
    days = sorted(d for d in (local_us(tz, to_us(h.at)) // DAY_US for h in prior if _counted(cap, request, h))
                  if day - cap.days < d <= day)
    if len(days) < cap.limit:
        return None
    return days[len(days) - cap.limit] + cap.days  # enough of the oldest have left the window


def check(request: ContactRequest, history: Iterable[ContactAttempt], flags: BorrowerFlags | None,
          profile: Profile) -> Decision:
    if flags is not None and flags.borrower_id != request.borrower_id:
        raise InvalidInput("flags belong to another borrower", field="flags.borrower_id")
    tz = zone(request.borrower_tz)
    at_us = to_us(request.at)
    day = local_us(tz, at_us) // DAY_US
    prior = [h for h in history if h.borrower_id == request.borrower_id and to_us(h.at) < at_us]
    broken: list[str] = []
    resets: list[int] = []

    freezes = profile.forbidden.freezes
    for rule, flag in FREEZE_FLAGS:
        if flags is not None and getattr(flags, flag) and request.purpose not in freezes[rule].allowed_purposes:
            broken.append(rule)
    if request.party is Party.third_party:
        broken += _third_party(request, prior, profile)
    if request.template_text is not None:
        broken += content_hits(profile, request.template_text)
        if false_amount(profile, request.template_text, request.amount_owed_fen):
            broken.append("content.false_amount")
    if quiet_applies(profile, request.method) and quiet_window_at(profile, tz, at_us) is not None:
        broken.append("quiet_hours")
    for cap in profile.spec.caps:
        reset = cap_reset_day(cap, request, prior, tz, day)
        if reset is not None:
            broken.append(cap.rule)
            resets.append(reset)
    return decide(profile, broken, resets, lambda: day_open(profile, tz, max(resets), request.method),
                  lambda: quiet_release(profile, tz, at_us))


def decide(profile: Profile, broken: list[str], resets: list[int], after_caps: Callable[[], int],
           after_quiet: Callable[[], int]) -> Decision:
    """Order the broken rules; release times are computed only when time alone can lift them."""
    if not broken:
        return Decision.allow()
    ordered = tuple(sorted(broken, key=lambda r: profile.rules[r].order))
    first = profile.rules[ordered[0]]
    next_at = None
    if all(profile.rules[r].time_based for r in ordered):
        next_at = from_us(after_caps() if resets else after_quiet())
    return Decision(False, ordered[0], first.reason_zh, first.reason_en, next_at, ordered)

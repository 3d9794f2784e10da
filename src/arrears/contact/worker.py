"""The outbox worker: the only place messages are sent.

One run: (1) claim up to ``batch`` due messages in one short transaction; (2) send each through its channel
with no transaction open; (3) record each outcome in a transaction of its own.

Never twice. A claim sets status ``sending``, a fresh ``claim_token`` and ``lease_until`` (now + lease) and is
committed BEFORE the channel is called. Claiming is guarded so that one message has one claimer: PostgreSQL
selects with ``FOR UPDATE SKIP LOCKED``; SQLite (one writer at a time) flips each row with
``UPDATE … WHERE id = ? AND status = <seen> AND attempts = <seen>`` and keeps it only if one row changed
(``attempts`` goes up with every claim, so it doubles as a version). Marking the outcome is guarded by the claim
token. If the process dies after the channel accepted a message but before ``sent`` is committed, the row stays
``sending``; once its lease has run out a later run claims it again and calls ``send`` again with the same
dedupe key, and the channel's idempotency turns that call into a look-up: it returns the first delivery's id
without delivering. The same holds when a slow worker outlives its lease: both calls carry one key, one
delivery results, and only the current claim's token can mark the row. Leases must exceed the channels'
timeouts (defaults: 300 s against 10-30 s).

Retries: a retryable failure sets ``failed`` and the next attempt at now + base x 2^(attempts-1) (capped); at
``max_attempts`` or on a permanent refusal the message is ``dead`` (also a claim that lapsed at the last
attempt: ``lease_expired``, delivery unconfirmed, for an operator to check). Collection messages are held (not
attempted) during the borrower's quiet hours, and a message past ``expires_at`` is dead without an attempt.

Freezes are re-checked at claim time (``arrears.cases.flags``, one query per batch): a message whose purpose the
borrower's flags now forbid (e.g. a complaint filed after it was queued) is not sent and not retried: status
``dead`` with ``last_error = 'blocked:<rule>'`` and an ``outbox.blocked`` event naming the rule. A claim that
lapsed (``sending``) is not re-checked: it may already have been delivered, and its re-send is only a look-up.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from arrears.audit.service import append_event
from arrears.cases.flags import flags_for, frozen_rule
from arrears.compliance.guard import quiet_applies, quiet_release
from arrears.compliance.localtime import from_us, to_us
from arrears.compliance.model import zone
from arrears.compliance.policy import packaged_profiles
from arrears.contact.channels import Channel, ChannelError, OutgoingMessage
from arrears.contact.outbox import SUBJECT_TYPE
from arrears.contact.tables import OutboxMessage as M
from arrears.db.base import utcnow
from arrears.db.engine import unit_of_work
from arrears.privacy import PersonalDataCipher

log = logging.getLogger(__name__)
ACTOR = "outbox-worker"
DEFAULT_PROFILE = "cn-bank"  # freezes come from forbidden.yaml, the same in every profile


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay_s: int = 60
    max_delay_s: int = 6 * 3600
    lease_s: int = 300  # a claim older than this is presumed dead and re-checked through the channel

    def __post_init__(self) -> None:
        if min(self.max_attempts, self.base_delay_s, self.lease_s) < 1 or self.max_delay_s < self.base_delay_s:
            raise ValueError("retry policy: max_attempts, base_delay_s, lease_s >= 1 and max_delay_s >= base_delay_s")

    def delay(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.base_delay_s * 2 ** max(attempts - 1, 0), self.max_delay_s))


@dataclass
class WorkerReport:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    held: int = 0  # quiet hours
    blocked: int = 0  # the borrower's flags now forbid it (complaint, do-not-contact, collection stopped)
    lost: int = 0  # our claim was taken over after the lease ran out; the new claimer records the outcome


@dataclass(frozen=True)
class _Claim:
    token: str
    attempts: int
    message: OutgoingMessage


Clock = Callable[[], datetime]


def run_worker(session_factory: sessionmaker[Session], channels: Mapping[str, Channel], *,
               cipher: PersonalDataCipher, batch: int = 100, now: datetime | Clock | None = None,
               policy: RetryPolicy = RetryPolicy(), actor: str = ACTOR) -> WorkerReport:
    """Claims, sends and records up to ``batch`` due messages of the given channels (others stay queued).
    ``now`` is a clock (or a fixed time) for tests and catch-up; any exception other than a channel's
    failure propagates, leaving its message ``sending`` until the lease runs out (then re-checked)."""
    clock: Clock = (lambda: now) if isinstance(now, datetime) else (now or utcnow)  # type: ignore[assignment]
    report = WorkerReport()
    for claim in _claim(session_factory, channels, batch, clock(), policy, cipher, report, actor):
        message = claim.message
        try:
            provider_id = channels[message.channel].send(message)
        except ChannelError as exc:
            _mark_failed(session_factory, claim, exc.code, exc.retryable, clock(), policy, report, actor)
        except Exception as exc:  # noqa: BLE001 -- a bug or unexpected library error: retried, recorded by type
            log.warning("outbox %s: %s raised %s", message.id, message.channel, type(exc).__name__)
            code = f"error.{type(exc).__name__}"
            _mark_failed(session_factory, claim, code, True, clock(), policy, report, actor)
        else:
            _mark_sent(session_factory, claim, provider_id, clock(), report, actor)
    return report


def _due(channels: Mapping[str, Channel], at: datetime):
    return and_(M.channel.in_(list(channels)),
                or_(and_(M.status.in_(("pending", "failed")), M.next_attempt_at <= at),
                    and_(M.status == "sending", M.lease_until < at)))


def _guarded(s: Session, m: M, **values: object) -> bool:
    """Changes the row only if nobody changed it since we read it (status and attempts as seen)."""
    result = s.execute(update(M).where(M.id == m.id, M.status == m.status, M.attempts == m.attempts)
                       .values(**values).execution_options(synchronize_session=False))
    return result.rowcount == 1


def _quiet_until(m: M, at: datetime) -> datetime | None:
    """The end of the borrower's quiet hours if the message may not go out now, else None."""
    if m.quiet_profile is None:
        return None
    profile = packaged_profiles()[m.quiet_profile]
    if not quiet_applies(profile, m.channel):
        return None
    at_us = to_us(at)
    release = quiet_release(profile, zone(m.borrower_tz), at_us)
    return None if release == at_us else from_us(release)


def _claim(factory: sessionmaker[Session], channels: Mapping[str, Channel], batch: int, at: datetime,
           policy: RetryPolicy, cipher: PersonalDataCipher, report: WorkerReport, actor: str) -> list[_Claim]:
    claims: list[_Claim] = []
    with unit_of_work(factory) as s:
        query = select(M).where(_due(channels, at)).order_by(M.next_attempt_at, M.id).limit(batch)
        if s.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)  # concurrent workers take disjoint rows
        rows = s.scalars(query).all()
        flags = flags_for(s, [m.borrower_id for m in rows if m.status != "sending"])
        for m in rows:
            expired = m.status != "sending" and m.expires_at is not None and m.expires_at <= at
            # A claim that ran out at the last attempt: a message that kills its worker must not loop forever.
            lapsed = m.status == "sending" and m.attempts >= policy.max_attempts
            if expired or lapsed:
                error = "expired" if expired else "lease_expired"
                if _guarded(s, m, status="dead", last_error=error, lease_until=None):
                    _event(s, m.id, m.borrower_id, "outbox.dead", {"error": error}, at, actor)
                    report.dead += 1
                continue
            rule = None if m.status == "sending" else \
                frozen_rule(flags[m.borrower_id], m.purpose, packaged_profiles()[m.quiet_profile or DEFAULT_PROFILE])
            if rule is not None:
                if _guarded(s, m, status="dead", last_error=f"blocked:{rule}", lease_until=None):
                    _event(s, m.id, m.borrower_id, "outbox.blocked", {"rule": rule}, at, actor)
                    report.blocked += 1
                continue
            held = _quiet_until(m, at)
            if held is not None:  # an unconfirmed claim waits too: its re-check may deliver
                column = "lease_until" if m.status == "sending" else "next_attempt_at"
                if _guarded(s, m, **{column: held}):
                    report.held += 1
                continue
            token = secrets.token_hex(16)
            lease = at + timedelta(seconds=policy.lease_s)
            if not _guarded(s, m, status="sending", claim_token=token, lease_until=lease, attempts=m.attempts + 1):
                continue  # another worker was first
            claims.append(_Claim(token, m.attempts + 1, OutgoingMessage(
                id=m.id, dedupe_key=m.dedupe_key, channel=m.channel, borrower_id=m.borrower_id, loan_id=m.loan_id,
                template=m.template, language=m.language,
                recipient=None if m.recipient_enc is None else cipher.decrypt(m.recipient_enc),
                subject=cipher.decrypt(m.subject_enc), body=cipher.decrypt(m.body_enc), created_at=m.created_at)))
    report.claimed += len(claims)
    return claims


def _event(s: Session, message_id: int, borrower_id: int, action: str, after: dict, at: datetime,
           actor: str) -> None:
    append_event(s, actor=actor, action=action, subject_type=SUBJECT_TYPE, subject_id=message_id,
                 borrower_id=borrower_id, after=after, occurred_at=at)


def _finish(s: Session, claim: _Claim, values: dict) -> bool:
    """Records an outcome only under our own claim: a claim taken over after our lease is not ours to mark."""
    result = s.execute(update(M).where(M.id == claim.message.id, M.status == "sending",
                                       M.claim_token == claim.token)
                       .values(lease_until=None, **values).execution_options(synchronize_session=False))
    return result.rowcount == 1


def _mark_sent(factory: sessionmaker[Session], claim: _Claim, provider_id: str, at: datetime,
               report: WorkerReport, actor: str) -> None:
    message = claim.message
    with unit_of_work(factory) as s:
        if not _finish(s, claim, {"status": "sent", "sent_at": at, "provider_message_id": provider_id[:200],
                                  "last_error": None}):
            report.lost += 1
            return
        _event(s, message.id, message.borrower_id, "outbox.sent",
               {"channel": message.channel, "provider_message_id": provider_id[:200], "attempts": claim.attempts},
               at, actor)
    report.sent += 1
    log.info("outbox %s sent by %s after %s attempt(s)", message.id, message.channel, claim.attempts)


def _mark_failed(factory: sessionmaker[Session], claim: _Claim, code: str, retryable: bool, at: datetime,
                 policy: RetryPolicy, report: WorkerReport, actor: str) -> None:
    message = claim.message
    dead = not retryable or claim.attempts >= policy.max_attempts
    next_at = at if dead else at + policy.delay(claim.attempts)
    with unit_of_work(factory) as s:
        if not _finish(s, claim, {"status": "dead" if dead else "failed", "last_error": code[:200],
                                  "next_attempt_at": next_at}):
            report.lost += 1
            return
        _event(s, message.id, message.borrower_id, "outbox.dead" if dead else "outbox.failed",
               {"channel": message.channel, "error": code[:200], "attempts": claim.attempts,
                "next_attempt_at": None if dead else next_at.isoformat()}, at, actor)
    if dead:
        report.dead += 1
    else:
        report.retrying += 1
    log.info("outbox %s: attempt %s by %s failed (%s)%s", message.id, claim.attempts, message.channel, code,
             ", dead" if dead else "")

"""Records the contact guard works on: a contact request, the borrower's earlier attempts, the borrower's
flags and the decision. Pure data; the rules are in ``guard.py`` (one request) and ``bulk.py`` (a table).

Times are aware datetimes given by the caller (the guard never reads a clock). Identifiers are the
database's integer ids; a third party is named by a stable string (e.g. the keyed digest of its phone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from arrears.errors import InvalidInput


class Method(StrEnum):
    sms = "sms"
    call = "call"
    email = "email"
    letter = "letter"
    visit = "visit"  # 外访 / on-site
    app = "app"  # in-app message or push


class Party(StrEnum):
    debtor = "debtor"
    third_party = "third_party"  # relatives, contacts, employer … anyone but the debtor


class Purpose(StrEnum):
    collect = "collect"
    remind = "remind"
    negotiate = "negotiate"
    locate = "locate"  # ask a third party for the debtor's contact details
    pass_message = "pass_message"  # ask a third party to have the debtor call back
    agreement_service = "agreement_service"  # instalment notices under a signed agreement
    complaint_response = "complaint_response"
    legal_notice = "legal_notice"
    sign_in = "sign_in"  # a portal sign-in code the borrower has just asked for (not a collection contact)


class Outcome(StrEnum):
    connected = "connected"
    no_answer = "no_answer"
    busy = "busy"
    unreachable = "unreachable"  # switched off, out of service area
    wrong_number = "wrong_number"
    failed = "failed"  # did not connect / not delivered
    sent = "sent"  # one-way message delivered (sms, e-mail, letter, app)
    left_message = "left_message"
    refused = "refused"  # reached, refused to talk
    promise = "promise"  # promise to pay
    dispute = "dispute"
    hardship = "hardship"


def _enum(kind: type[StrEnum], value: object, field: str) -> StrEnum:
    try:
        return kind(value)
    except ValueError:
        raise InvalidInput(f"unknown {field} {value!r}; use one of {[m.value for m in kind]}", field=field) from None


def _aware(at: object, field: str) -> datetime:
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput("must be a timezone-aware datetime", field=field)
    return at


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {name!r}", field="borrower_tz") from None


@dataclass(frozen=True, slots=True)
class ContactRequest:
    """One outbound contact about to be made (manual or automatic)."""

    case_id: int
    loan_id: int
    borrower_id: int
    borrower_tz: str  # IANA name; quiet hours and day boundaries are the borrower's local time
    method: Method
    party: Party
    purpose: Purpose
    at: datetime
    agency_id: int | None = None  # None: the institution's own staff
    template_text: str | None = None  # the rendered message, when there is one
    discloses_debt: bool = False  # the contact tells its recipient about the debt
    amount_owed_fen: int | None = None  # what the message may state as owed; checked against the text
    third_party_id: str | None = None  # who the third party is (needed to count contacts per person)

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", _enum(Method, self.method, "method"))
        object.__setattr__(self, "party", _enum(Party, self.party, "party"))
        object.__setattr__(self, "purpose", _enum(Purpose, self.purpose, "purpose"))
        _aware(self.at, "at")
        zone(self.borrower_tz)
        if self.party is Party.third_party and not self.third_party_id:
            raise InvalidInput("a contact with a third party must name the third party", field="third_party_id")
        if self.amount_owed_fen is not None and (isinstance(self.amount_owed_fen, bool)
                                                 or not isinstance(self.amount_owed_fen, int)):
            raise InvalidInput("must be int fen", field="amount_owed_fen")


@dataclass(frozen=True, slots=True)
class ContactAttempt:
    """One earlier attempt, by anyone (the institution or any agency), with its outcome."""

    borrower_id: int
    loan_id: int
    method: Method
    party: Party
    outcome: Outcome
    at: datetime
    agency_id: int | None = None
    third_party_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", _enum(Method, self.method, "method"))
        object.__setattr__(self, "party", _enum(Party, self.party, "party"))
        object.__setattr__(self, "outcome", _enum(Outcome, self.outcome, "outcome"))
        _aware(self.at, "at")


# The borrower's previous attempts; the guard only counts those of the request's borrower made before it.
ContactHistory = tuple[ContactAttempt, ...]


@dataclass(frozen=True, slots=True)
class BorrowerFlags:
    borrower_id: int
    do_not_contact: bool = False
    open_complaint: bool = False
    signed_agreement_with_collection_stop: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    rule: str | None  # the first rule broken, in the documented order (policy.RULE_ORDER)
    reason_zh: str
    reason_en: str
    next_allowed_at: datetime | None  # UTC; only when every broken rule is one that time alone lifts
    broken: tuple[str, ...] = ()  # every rule broken, in order

    @staticmethod
    def allow() -> Decision:
        return Decision(True, None, "符合全部联系规则", "all contact rules pass", None, ())

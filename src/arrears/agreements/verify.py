"""Tamper evidence beyond the event chains: each agreement's stored terms, document and certificate must match
the digests its own hash-chained events recorded. ``arrears audit verify`` runs this after ``verify_events``
(an altered event is caught there; an altered term or PDF byte is caught here)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.agreements import terms
from arrears.agreements.documents import sha256
from arrears.agreements.tables import Agreement, StoredDocument
from arrears.audit.tables import Event


@dataclass(frozen=True)
class AgreementProblem:
    agreement_id: int
    problem: str


def verify_agreements(session: Session) -> tuple[int, list[AgreementProblem]]:
    problems: list[AgreementProblem] = []
    recorded: dict[str, dict[str, str]] = {}
    for subject_id, after in session.execute(
            select(Event.subject_id, Event.after).where(Event.subject_type == "agreement",
                                                        Event.action.in_(("agreement.created",
                                                                          "agreement.certificate_issued")))):
        recorded.setdefault(subject_id, {}).update({k: v for k, v in (after or {}).items() if k.endswith("sha256")})
    stored = {k: sha256(c) for k, c in session.execute(select(StoredDocument.sha256, StoredDocument.content))}
    checked = 0
    for a in session.scalars(select(Agreement).order_by(Agreement.id)):
        checked += 1
        chain = recorded.get(str(a.id), {})
        bad = lambda what: problems.append(AgreementProblem(a.id, what))  # noqa: E731
        if not chain:
            bad("no 'agreement.created' event records its digests")
            continue
        if terms.digest(a.terms_json) != chain.get("terms_sha256") or a.terms_sha256 != chain.get("terms_sha256"):
            bad("stored terms do not match the digest in the audit chain (altered)")
        for column, key in (("document_sha256", "document_sha256"), ("certificate_sha256", "certificate_sha256")):
            value = getattr(a, column)
            if value is None and key not in chain:
                continue
            if value != chain.get(key):
                bad(f"{column} does not match the audit chain (altered)")
            elif value not in stored:
                bad(f"{column}: the stored file is missing")
            elif stored[value] != value:
                bad(f"{column}: the stored file's bytes do not match their SHA-256 (altered)")
    return checked, problems

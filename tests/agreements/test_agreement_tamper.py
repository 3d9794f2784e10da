"""Tamper evidence: `arrears audit verify` fails when a stored term, the document's bytes or an agreement event
is altered in the database (on both backends), and passes on the untouched data."""

import json

import pytest
from agreement_helpers import debt_of, make_plan, overdue_loan, signed_and_countersigned
from sqlalchemy import text, update
from typer.testing import CliRunner

from arrears.agreements.tables import Agreement, StoredDocument
from arrears.agreements.terms import digest
from arrears.agreements.verify import verify_agreements
from arrears.audit.service import verify_events
from arrears.audit.tables import Event
from arrears.cli import app
from arrears.db.append_only import drop_statements
from arrears.db.engine import make_engine, make_session_factory

runner = CliRunner()


def _verify(s):
    """What `arrears audit verify` checks: the event chains, then the agreements against them."""
    return [p.problem for p in verify_events(s)[1]] + [p.problem for p in verify_agreements(s)[1]]


@pytest.fixture
def agreement(db, store):
    with db.session() as s:
        bid, lid = overdue_loan(s, store, db.factory)
        a = signed_and_countersigned(s, make_plan(debt_of(s, lid), lid), lid, bid)
        s.commit()
        return a.id


def _alter_term(s, agreement_id):
    a = s.get(Agreement, agreement_id)
    terms = json.loads(a.terms_json)
    terms["waiver"]["penalty"] += 100  # a bigger waiver than was signed
    s.execute(update(Agreement).where(Agreement.id == agreement_id).values(
        terms_json=json.dumps(terms, sort_keys=True, separators=(",", ":"))))


def _alter_document(s, agreement_id):
    key = s.get(Agreement, agreement_id).document_sha256
    content = s.get(StoredDocument, key).content
    s.execute(update(StoredDocument).where(StoredDocument.sha256 == key).values(
        content=content.replace(b"%PDF", b"%PDX", 1)))


def _alter_event(s, agreement_id):
    for statement in drop_statements(s.connection().dialect.name):
        s.execute(text(statement))
    s.execute(update(Event).where(Event.subject_type == "agreement", Event.subject_id == str(agreement_id),
                                  Event.action == "agreement.countersigned").values(actor="mallory"))


@pytest.mark.parametrize("alter, expected", [
    (_alter_term, "stored terms do not match"),
    (_alter_document, "bytes do not match their SHA-256"),
    (_alter_event, "content does not match its hash"),
])
def test_audit_verify_reports_an_altered_term_document_or_event(db, agreement, alter, expected):
    with db.session() as s:
        assert _verify(s) == []
        alter(s, agreement)
        s.commit()
        problems = _verify(s)
    assert len(problems) == 1 and expected in problems[0], problems


def test_the_command_fails_on_an_altered_term(tmp_path, store):
    data = tmp_path / "data"
    assert runner.invoke(app, ["init", "--data-dir", str(data)]).exit_code == 0
    factory = make_session_factory(make_engine(f"sqlite:///{data / 'arrears.db'}"))
    with factory() as s:
        bid, lid = overdue_loan(s, store, factory)
        a = signed_and_countersigned(s, make_plan(debt_of(s, lid), lid), lid, bid)
        s.commit()
    passed = runner.invoke(app, ["audit", "verify", "--data-dir", str(data)])
    assert passed.exit_code == 0 and "1 agreements" in passed.output, passed.output
    with factory() as s:
        _alter_term(s, a.id)
        s.commit()
    failed = runner.invoke(app, ["audit", "verify", "--data-dir", str(data)])
    assert failed.exit_code == 1 and f"agreement {a.id}: stored terms do not match" in failed.output, failed.output


def test_updating_the_terms_and_their_digest_together_is_still_caught(db, agreement):
    with db.session() as s:
        _alter_term(s, agreement)
        a = s.get(Agreement, agreement)
        s.refresh(a)
        s.execute(update(Agreement).where(Agreement.id == agreement).values(terms_sha256=digest(a.terms_json)))
        s.commit()
        _, problems = verify_agreements(s)
    assert [p.problem for p in problems] == ["stored terms do not match the digest in the audit chain (altered)"]

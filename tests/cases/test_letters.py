"""A letter or notice sent by hand from a case (cases.letters), on both backends: a template the stage allows,
filled from the last end-of-day state, the compliance guard with real history and flags, the outbox, the
contact log for a refusal, audit events on the case."""

from datetime import date, timedelta

import pytest
from case_helpers import STATE_ON, add_case, add_state, utc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from arrears.audit.tables import Event
from arrears.cases import letters
from arrears.cases.policy import policy
from arrears.cases.tables import ContactLog, PromiseToPay
from arrears.complaints.tables import Complaint
from arrears.contact.tables import OutboxMessage
from arrears.contact.templates import catalog
from arrears.errors import Conflict, InvalidInput
from arrears.loans.tables import Loan
from arrears.money import format_yuan
from support import CIPHER

NOON = utc(2026, 3, 10, 4)  # 12:00 in Asia/Shanghai


def _send(s, case, **kw):
    args = {"cipher": CIPHER, "case_id": case.id, "template": "overdue_notice", "channel": "letter",
            "language": None, "at": NOON, "actor": "collector1", "agent_user_id": None}
    return letters.send_letter(s, **{**args, **kw})


def _events(s, subject_type="case"):
    return [e for e in s.scalars(select(Event).where(Event.subject_type == subject_type).order_by(Event.id))]


def test_every_stage_offers_collection_templates_the_catalogue_has():
    from arrears.cases.model import lifecycle

    by_stage = policy().letters.by_stage
    assert set(by_stage) == {st.code for st in lifecycle().stages}
    for stage, names in by_stage.items():
        for name in names:  # legal notices and sign-in codes have their own use cases
            assert str(catalog().spec(name).purpose) in ("collect", "remind", "negotiate"), (stage, name)
        assert letters.templates_for(stage) == names


def test_an_allowed_letter_is_queued_in_the_outbox_and_audited_on_the_case(db):
    with db.session() as s:
        case = add_case(s)
        add_state(s, case)
        result = _send(s, case)
        s.commit()
        m = result.message
        assert result.decision.allowed and not result.already and m is not None
        assert (m.case_id, m.loan_id, m.channel, m.template, m.language, m.status) == (
            case.id, case.loan_id, "letter", "overdue_notice", "zh-CN", "pending")
        body = CIPHER.decrypt(m.body_enc)
        assert "张三" in body and "逾期 25 天" in body and format_yuan(51_545) in body and "张三".encode() not in m.body_enc
        assert f"{STATE_ON - timedelta(days=25):%Y年%-m月%-d日}" in body  # due on = the state's date − days past due
        assert m.dedupe_key == f"case:{case.id}:letter:overdue_notice:letter:2026-03-09"
        queued = _events(s)[-1]
        assert (queued.action, queued.actor, queued.after["outbox_id"], queued.after["allowed"]) == (
            "letter.queued", "collector1", m.id, True)
        assert "张三" not in str(queued.after)  # personal data stays out of the audit trail
        assert [e.action for e in _events(s, "outbox_message")] == ["outbox.queued"]
        assert s.scalars(select(ContactLog)).all() == []  # the message counts in the history once it is sent

        again = _send(s, case)  # a second click: the same letter, nothing new
        assert again.already and again.message.id == m.id
        assert len(_events(s)) == 1 and s.scalar(select(OutboxMessage.id).where(OutboxMessage.id != m.id)) is None


def test_english_is_available_and_the_preview_masks_the_name_for_a_role_that_must_not_see_it(db):
    with db.session() as s:
        case = add_case(s)
        add_state(s, case)
        masked = letters.preview_letter(s, cipher=CIPHER, case_id=case.id, template="overdue_notice",
                                        channel="sms", language=None, unmasked=False)
        assert masked.language == "zh-CN" and "张*" in masked.body and "张三" not in masked.body
        en = letters.preview_letter(s, cipher=CIPHER, case_id=case.id, template="overdue_notice", channel="email",
                                    language="en", unmasked=True)
        assert en.language == "en" and "Dear 张三" in en.body and "25 days overdue" in en.body
        assert _events(s) == [] and s.scalars(select(OutboxMessage)).all() == []  # a preview writes nothing
        m = _send(s, case, channel="email", language="en").message
        assert CIPHER.decrypt(m.subject_enc) == en.subject and CIPHER.decrypt(m.body_enc) == en.body
        assert [e.action for e in _events(s)] == ["letter.queued"]


def test_a_template_or_channel_the_stage_does_not_allow_is_refused_before_the_guard(db):
    with db.session() as s:
        case = add_case(s, stage="preparation")
        add_state(s, case)
        with pytest.raises(InvalidInput) as exc:
            _send(s, case)
        assert exc.value.rule == "letter.stage"
        case.stage = "phone"
        s.flush()
        with pytest.raises(InvalidInput) as exc:
            _send(s, case, template="lawyer_letter")
        assert exc.value.rule == "letter.stage"
        with pytest.raises(InvalidInput) as exc:
            _send(s, case, channel="call")
        assert exc.value.rule == "template.channel"
        assert s.scalars(select(ContactLog)).all() == [] and _events(s) == []


def test_no_end_of_day_state_yet_or_no_promise_to_confirm(db):
    with db.session() as s:
        case = add_case(s)
        with pytest.raises(Conflict) as exc:
            _send(s, case)
        assert exc.value.rule == "letter.no_state"
        add_state(s, case)
        with pytest.raises(Conflict) as exc:
            _send(s, case, template="promise_confirmation")
        assert exc.value.rule == "letter.no_promise"
        s.add(PromiseToPay(case_id=case.id, loan_id=case.loan_id, borrower_id=case.borrower_id, amount_fen=30_000,
                           promised_on=date(2026, 3, 10), due_on=date(2026, 3, 20), status="open"))
        s.flush()
        body = CIPHER.decrypt(_send(s, case, template="promise_confirmation", channel="sms").message.body_enc)
        assert "2026年3月20日" in body and "300.00" in body


def test_the_guards_refusal_is_logged_with_its_rule_and_nothing_is_queued(db):
    with db.session() as s:
        case = add_case(s)
        add_state(s, case)
        late = utc(2026, 3, 10, 14, 30)  # 22:30 in Shanghai
        result = _send(s, case, channel="sms", at=late)
        assert not result.decision.allowed and result.message is None
        assert (result.decision.rule, result.decision.next_allowed_at) == ("quiet_hours", utc(2026, 3, 11, 0))
        s.add(Complaint(borrower_id=case.borrower_id, channel="portal", category="harassment", status="open",
                        text_enc=CIPHER.encrypt("x"), filed_at=NOON, sla_due_on=date(2026, 3, 25)))
        s.flush()
        assert _send(s, case).decision.rule == "open_complaint"
        s.commit()
        logged = s.scalars(select(ContactLog).order_by(ContactLog.id)).all()
        assert [(c.method, c.purpose, c.allowed, c.refused_rule) for c in logged] == [
            ("sms", "collect", False, "quiet_hours"), ("letter", "collect", False, "open_complaint")]
        assert [(e.action, e.after["rule"]) for e in _events(s)] == [("letter.refused", "quiet_hours"),
                                                                     ("letter.refused", "open_complaint")]
        assert s.scalars(select(OutboxMessage)).all() == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dpd=st.integers(1, 2_000), parts=st.tuples(*[st.integers(0, 10**9)] * 4))
def test_the_amount_owed_is_every_overdue_component_and_the_due_date_the_states_date_less_days_past_due(db, dpd,
                                                                                                     parts):
    principal, interest, fee, penalty = parts
    with db.session() as s:
        case = add_case(s)
        add_state(s, case, dpd=dpd, principal=principal, interest=interest, fee=fee, penalty=penalty)
        variables, on = letters.letter_variables(s, case, s.get(Loan, case.loan_id), "张*", "overdue_notice")
        assert on == STATE_ON and variables["due_on"] == STATE_ON - timedelta(days=dpd)
        assert variables["amount_owed_fen"] == principal + interest + fee + penalty
        assert variables["penalty_fen"] == penalty and variables["days_overdue"] == dpd
        assert all(isinstance(v, int) for k, v in variables.items() if k.endswith("_fen"))
        s.rollback()


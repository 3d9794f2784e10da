from sqlalchemy import text, update

from arrears.audit.service import append_event, verify_events
from arrears.audit.tables import Event
from arrears.db.append_only import drop_statements


def test_chain_verifies_and_detects_an_altered_event(db):
    with db.session() as s:
        for i in range(3):
            append_event(s, actor="u1", action="loan.updated", subject_type="loan", subject_id=7,
                         borrower_id=1, before={"n": i}, after={"n": i + 1, "名": "张三"})
        append_event(s, actor="u1", action="user.created", subject_type="user", subject_id=1)
        s.commit()
        checked, problems = verify_events(s)
        assert checked == 4 and problems == []
        for statement in drop_statements(db.backend):  # only by removing the guard can history be edited
            s.execute(text(statement))
        s.execute(update(Event).where(Event.seq == 2, Event.subject_type == "loan").values(actor="mallory"))
        s.commit()
        _, problems = verify_events(s)
    assert [p.problem for p in problems] == ["content does not match its hash (altered)"]

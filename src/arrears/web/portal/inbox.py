"""Messages: the borrower's in-app inbox (``contact.inbox``), newest first; opening one marks it read."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from arrears.contact.inbox import inbox, mark_read
from arrears.contact.tables import InAppMessage
from arrears.web.deps import CipherDep, SessionDep
from arrears.web.portal.common import borrower, not_found, see_other
from arrears.web.render import render

router = APIRouter(include_in_schema=False)
INBOX_SIZE = 50


@router.get("/portal/messages", response_class=HTMLResponse)
def messages(request: Request, session: SessionDep, cipher: CipherDep) -> Response:
    me = borrower(request, session)
    if isinstance(me, Response):
        return me
    items = inbox(session, me.borrower_id, cipher, limit=INBOX_SIZE)
    return render(request, "portal/messages.html", me, items=items, limit=INBOX_SIZE)


@router.post("/portal/messages/{message_id}/read")
def read(message_id: int, request: Request, session: SessionDep) -> Response:
    me = borrower(request, session)
    if isinstance(me, Response):
        return me
    row = session.get(InAppMessage, message_id)
    if row is None or row.borrower_id != me.borrower_id:
        return not_found(request, me)
    mark_read(session, me.borrower_id, message_id)
    return see_other(f"/portal/messages#m{message_id}")

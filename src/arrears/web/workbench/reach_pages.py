"""The case page's forms for reaching the borrower beyond their own channels, each on the service the API calls
(``cases.third_parties``, ``cases.contacts``, ``cases.visits``) inside a savepoint: register a third party,
contact one through the compliance guard (a refusal is logged and shown with its reason), schedule a field
visit (the guard decides at the planned time), report or cancel it under the visit's version (a stale form
says so and changes nothing). Bad input is named next to its field, in the reader's language."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from arrears.auth.model import Permission
from arrears.cases import contacts, third_parties, visits
from arrears.cases.evidence import EvidenceStore
from arrears.cases.policy import policy
from arrears.cases.tables import FieldVisit, ThirdParty
from arrears.errors import Problem
from arrears.ledger.service import savepoint
from arrears.settings import BUSINESS_TZ
from arrears.web.deps import CipherDep, SessionDep, Today
from arrears.web.workbench import case_pages
from arrears.web.workbench.case_pages import OUTCOMES, _case_row, _done, _page, _problem, _visible
from arrears.web.workbench.case_reach import TP_PURPOSES, visit_partners
from arrears.web.workbench.case_view import FORM_METHODS

router = APIRouter(include_in_schema=False)
PHONE = re.compile(r"^\+?[\d \-]{5,20}$")
NOTE_MAX, MESSAGE_MAX, NAME_MAX, REPORT_MAX, REF_MAX = 4000, 1000, 100, 8000, 200


def _required(values: dict, *names: str) -> dict[str, str]:
    return {n: "required" for n in names if not values[n].strip()}


def _refused_or_error(request, session, me, case, cipher, today, form: str, values: dict, run) -> Response | None:
    """Runs ``run`` (a contact through the guard) in a savepoint: None when allowed, else the page with the
    guard's refusal (logged) or the service's error next to its field."""
    try:
        with savepoint(session):
            result = run()
    except Problem as exc:
        return _page(request, session, me, case, cipher, today, status=409 if exc.status == 409 else 400,
                     **_problem(form, exc, values))
    if not result.decision.allowed:
        return _page(request, session, me, case, cipher, today, status=409, refusal=result.decision,
                     refused_form=form, values={form: values})
    return None


@router.post("/cases/{case_id}/third-parties", response_class=HTMLResponse)
def register(case_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
             relation: Annotated[str, Form()] = "", name: Annotated[str, Form()] = "",
             phone: Annotated[str, Form()] = "", address: Annotated[str, Form()] = "") -> Response:
    me, case = _visible(request, session, case_id, Permission.cases_work)
    if isinstance(case, Response):
        return case
    values = {"relation": relation, "name": name, "phone": phone, "address": address}
    errors = _required(values, "relation", "name")
    if relation and relation not in third_parties.RELATIONS:
        errors["relation"] = "choice"
    if len(name) > NAME_MAX or len(address) > 300:
        errors.update({k: "too_long" for k, n in (("name", NAME_MAX), ("address", 300)) if len(values[k]) > n})
    if phone.strip() and not PHONE.match(phone.strip()):
        errors["phone"] = "phone_format"
    if not (phone.strip() or address.strip()) and "phone" not in errors:
        errors["phone"] = "third_party.reachable"
    if errors:
        return _page(request, session, me, case, cipher, today, status=400, errors={"third_party": errors},
                     values={"third_party": values})
    try:
        with savepoint(session):
            third_parties.register_third_party(session, cipher=cipher, borrower_id=case.borrower_id,
                                               relation=relation, name=name, actor=me.actor,
                                               phone=phone.strip() or None, address=address.strip() or None)
    except Problem as exc:
        return _page(request, session, me, case, cipher, today, status=400, **_problem("third_party", exc, values))
    return _done(case.id, "third_party")


@router.post("/cases/{case_id}/third-party-contact", response_class=HTMLResponse)
def contact_third_party(case_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
                        third_party_id: Annotated[str, Form()] = "", method: Annotated[str, Form()] = "",
                        purpose: Annotated[str, Form()] = "", outcome: Annotated[str, Form()] = "",
                        message: Annotated[str, Form()] = "", note: Annotated[str, Form()] = "") -> Response:
    """A contact with a registered third party: the guard applies the profile's third-party rules (allowed at
    all, purpose, debtor unreachable first, once per person) and checks what is said for the debt."""
    me, case = _visible(request, session, case_id, Permission.cases_work)
    if isinstance(case, Response):
        return case
    values = {"third_party_id": third_party_id, "method": method, "purpose": purpose, "outcome": outcome,
              "message": message, "note": note}
    errors = _required(values, "third_party_id", "method", "purpose")
    tp = session.get(ThirdParty, int(third_party_id)) if third_party_id.isdigit() and len(third_party_id) < 12 \
        else None
    if third_party_id and (tp is None or tp.borrower_id != case.borrower_id):
        errors["third_party_id"] = "choice"
    for name, allowed in (("method", FORM_METHODS), ("purpose", TP_PURPOSES), ("outcome", OUTCOMES)):
        if values[name] and values[name] not in allowed:
            errors[name] = "choice"
    errors.update({k: "too_long" for k, n in (("message", MESSAGE_MAX), ("note", NOTE_MAX)) if len(values[k]) > n})
    if errors:
        return _page(request, session, me, case, cipher, today, status=400, errors={"tp_contact": errors},
                     values={"tp_contact": values})
    refused = _refused_or_error(
        request, session, me, case, cipher, today, "tp_contact", values,
        lambda: contacts.request_contact(session, cipher=cipher, case_id=case.id, method=method, party="third_party",
                                         purpose=purpose, at=case_pages.now(), actor=me.actor,
                                         agent_user_id=me.user_id, third_party_id=tp.id, outcome=outcome or None,
                                         note=note.strip() or None, template_text=message.strip() or None))
    return refused or _done(case.id, "tp_contact")


def _planned(text: str) -> datetime | None:
    """A datetime-local value (business time zone) as an aware time, or None."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=ZoneInfo(BUSINESS_TZ)) if moment.tzinfo is None else moment


@router.post("/cases/{case_id}/visits", response_class=HTMLResponse)
def schedule(case_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
             planned_at: Annotated[str, Form()] = "", address_type: Annotated[str, Form()] = "",
             second_collector: Annotated[str, Form()] = "") -> Response:
    """A field visit with the signed-in collector (and a second one where the profile asks for two); the guard
    decides at the planned time (quiet hours, freezes, caps) and a refusal schedules nothing."""
    me, case = _visible(request, session, case_id, Permission.cases_work)
    if isinstance(case, Response):
        return case
    values = {"planned_at": planned_at, "address_type": address_type, "second_collector": second_collector}
    errors = _required(values, "planned_at", "address_type")
    at = _planned(planned_at) if planned_at.strip() else None
    if planned_at.strip() and at is None:
        errors["planned_at"] = "datetime_format"
    elif at is not None and at <= case_pages.now():
        errors["planned_at"] = "visit.future"
    if address_type and address_type not in policy().visits.address_types:
        errors["address_type"] = "choice"
    partners = {str(u.id) for u in visit_partners(session, me)}
    if second_collector and second_collector not in partners:
        errors["second_collector"] = "choice"
    if errors:
        return _page(request, session, me, case, cipher, today, status=400, errors={"visit": errors},
                     values={"visit": values})
    problem_fields = {"second_collector_user_id": "second_collector", "collector_user_id": "second_collector"}

    def run():
        try:
            result = visits.schedule_visit(session, cipher=cipher, case_id=case.id, planned_at=at,
                                           address_type=address_type, collector_user_id=me.user_id, actor=me.actor,
                                           second_collector_user_id=int(second_collector) if second_collector
                                           else None)
        except Problem as exc:
            exc.field = problem_fields.get(exc.field or "", exc.field)
            raise
        return result.contact

    refused = _refused_or_error(request, session, me, case, cipher, today, "visit", values, run)
    return refused or _done(case.id, "visit")


def _visit_write(request, session, me, case, cipher, today, form: str, values: dict, version: str,
                 write) -> Response:
    """A write under the visit's version the user saw: a stale one says so and changes nothing."""
    if not version.strip().isdigit():
        return _page(request, session, me, case, cipher, today, status=400, errors={form: {"form": "visit.version"}},
                     values={form: values})
    try:
        with savepoint(session):
            write(int(version))
    except Problem as exc:
        session.expire_all()  # the visits as they are now
        return _page(request, session, me, case, cipher, today, status=409 if exc.status == 409 else 400,
                     **_problem(form, exc, values))
    return _done(case.id, form.split("-")[0])


@router.post("/cases/{case_id}/visits/{visit_id}/report", response_class=HTMLResponse)
def report(case_id: int, visit_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
           outcome: Annotated[str, Form()] = "", report: Annotated[str, Form()] = "",
           recording_ref: Annotated[str, Form()] = "", committee_involved: Annotated[str, Form()] = "",
           committee_name: Annotated[str, Form()] = "", version: Annotated[str, Form()] = "",
           evidence: Annotated[list[UploadFile] | None, File()] = None) -> Response:
    """The visit's report: outcome, what happened, the recording (on-site collection is recorded) and evidence
    files, checked by type and size as the API's upload is, then kept in the content-addressed store."""
    found = _case_row(request, session, case_id, FieldVisit, visit_id)
    if isinstance(found, Response):
        return found
    me, case, visit = found
    form = f"report-{visit.id}"
    values = {"outcome": outcome, "report": report, "recording_ref": recording_ref, "committee_name": committee_name,
              "committee_involved": committee_involved}
    errors = _required(values, "outcome", "report", "recording_ref")
    if outcome and outcome not in OUTCOMES:
        errors["outcome"] = "choice"
    errors.update({k: "too_long" for k, n in (("report", REPORT_MAX), ("recording_ref", REF_MAX),
                                             ("committee_name", NAME_MAX)) if len(values[k]) > n})
    if committee_involved and not committee_name.strip():
        errors["committee_name"] = "visit.committee_name"
    refs: list[str] = []
    store = EvidenceStore(request.app.state.settings.data_dir / "files")
    for upload in [f for f in evidence or () if f.filename]:  # an empty input still sends one nameless part
        try:
            refs.append(store.put(upload.file.read(policy().evidence.max_bytes + 1),
                                  upload.content_type if upload.content_type != "application/octet-stream"
                                  else None).sha256)
        except Problem as exc:
            errors["evidence"] = exc.rule or "invalid"
            break
    if errors:
        return _page(request, session, me, case, cipher, today, status=400, errors={form: errors},
                     values={form: values})
    return _visit_write(request, session, me, case, cipher, today, form, values, version, lambda v: visits.report_visit(
        session, cipher=cipher, store=store, visit_id=visit.id, outcome=outcome, report=report,
        recording_ref=recording_ref.strip(), actor=me.actor, expected_version=v, at=case_pages.now(), evidence=refs,
        committee_involved=bool(committee_involved), committee_name=committee_name or None))


@router.post("/cases/{case_id}/visits/{visit_id}/cancel", response_class=HTMLResponse)
def cancel(case_id: int, visit_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
           reason: Annotated[str, Form()] = "", version: Annotated[str, Form()] = "") -> Response:
    found = _case_row(request, session, case_id, FieldVisit, visit_id)
    if isinstance(found, Response):
        return found
    me, case, visit = found
    form, values = f"cancel-{visit.id}", {"reason": reason}
    if not reason.strip() or len(reason) > NOTE_MAX:
        return _page(request, session, me, case, cipher, today, status=400,
                     errors={form: {"reason": "required" if not reason.strip() else "too_long"}}, values={form: values})
    return _visit_write(request, session, me, case, cipher, today, form, values, version, lambda v: visits.cancel_visit(
        session, visit_id=visit.id, reason=reason, actor=me.actor, expected_version=v))


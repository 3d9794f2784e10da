"""The legal case page's forms (``legal:manage``; the bundle ``legal:evidence``). Each reads its fields (amounts
as yuan text, dates as YYYY-MM-DD), refuses bad ones next to the field, then calls the service function the API
calls; a refusal by the service (a date out of order, the legal cap, the compliance guard, a stale version) is
shown on the page with what was typed kept, and nothing of the attempt is kept. Success redirects (PRG)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from arrears.auth.model import Permission
from arrears.compliance.policy import packaged_profiles
from arrears.db.base import utcnow
from arrears.errors import NotFound, Problem
from arrears.legal import outcomes, service
from arrears.legal.bundle import build_bundle
from arrears.legal.model import Award, binding_cap
from arrears.legal.notices import send_notice
from arrears.legal.policy import policy
from arrears.legal.tables import LegalCase
from arrears.loans.tables import Loan
from arrears.money import MoneyError, yuan_to_fen
from arrears.products.catalog import catalog
from arrears.web.deps import CipherDep, SessionDep, Today
from arrears.web.legal_desk.common import Form as Fields
from arrears.web.legal_desk.legal_cases import legal_page
from arrears.web.render import render, staff_gate

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form()]
SOURCES = ("voluntary", "enforcement", "auction", "settlement")
HEARING_KINDS = ("mediation", "pretrial", "hearing", "judgment_pronounced")


def _submit(request: Request, session, cipher, today: date, legal_case_id: int, form: Fields,
            call: Callable[..., object], fields: dict[str, str] | None = None, anchor: str = "",
            permission: Permission = Permission.legal_manage,
            explain: Callable[[Problem], None] | None = None) -> Response:
    me, refused = staff_gate(request, session, permission)
    if refused:
        return refused
    if session.get(LegalCase, legal_case_id) is None:
        return render(request, "not_found.html", me, status=404)
    if not form.ok:
        return legal_page(request, session, cipher, me, legal_case_id, today, form, 422)
    try:
        result = call(me)
    except Problem as exc:
        session.rollback()  # nothing of a refused attempt is kept
        if isinstance(exc, NotFound) and exc.field == "legal_case_id":
            return render(request, "not_found.html", me, status=404)
        status = form.refused_by(exc, fields)
        if explain is not None:
            explain(exc)
        return legal_page(request, session, cipher, me, legal_case_id, today, form, status)
    if isinstance(result, Response):
        return result
    return RedirectResponse(f"/legal/{legal_case_id}#{anchor}", status_code=303)


@router.post("/legal/{legal_case_id}/filing", response_class=HTMLResponse)
def file_claim(legal_case_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
               version: Text = "", court: Text = "", court_case_no: Text = "", firm: Text = "", lawyer: Text = "",
               filed_on: Text = "", claim: Text = "") -> Response:
    f = Fields("filing", {"version": version, "court": court, "court_case_no": court_case_no, "firm": firm,
                          "lawyer": lawyer, "filed_on": filed_on, "claim": claim})
    values = {"court": f.text("court", 120), "court_case_no": f.text("court_case_no", 80),
              "firm": f.text("firm", 120), "lawyer": f.text("lawyer", 60), "filed_on": f.day("filed_on"),
              "claim_fen": f.amount("claim")}
    return _submit(request, session, cipher, today, legal_case_id, f, lambda me: service.file_claim(
        session, legal_case_id=legal_case_id, expected_version=f.version(), actor=me.actor, **values),
        {"claim_fen": "claim"}, "filing")


@router.post("/legal/{legal_case_id}/hearing", response_class=HTMLResponse)
def add_hearing(legal_case_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
                held_on: Text = "", kind: Text = "", note: Text = "") -> Response:
    f = Fields("hearing", {"held_on": held_on, "kind": kind, "note": note})
    values = {"held_on": f.day("held_on"), "kind": f.choice("kind", HEARING_KINDS), "note": f.text("note", 500,
                                                                                                   required=False)}
    return _submit(request, session, cipher, today, legal_case_id, f, lambda me: service.add_hearing(
        session, legal_case_id=legal_case_id, actor=me.actor, **values), anchor="hearings")


AWARD = ("principal", "interest", "penalty", "fee", "costs")


@router.post("/legal/{legal_case_id}/judgment", response_class=HTMLResponse)
def record_judgment(legal_case_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
                    version: Text = "", judgment_no: Text = "", judgment_on: Text = "", served_on: Text = "",
                    interest_until: Text = "", performance_days: Text = "", principal: Text = "",
                    interest: Text = "", penalty: Text = "", fee: Text = "", costs: Text = "") -> Response:
    f = Fields("judgment", {"version": version, "judgment_no": judgment_no, "judgment_on": judgment_on,
                            "served_on": served_on, "interest_until": interest_until, "award": "",
                            "performance_days": performance_days, "principal": principal, "interest": interest,
                            "penalty": penalty, "fee": fee, "costs": costs})
    number, on, served = f.text("judgment_no", 80), f.day("judgment_on"), f.day("served_on")
    until, days = f.day("interest_until"), f.whole("performance_days", 0, 365, required=False)
    award = {k: f.amount(k, positive=False, required=k in ("principal", "interest", "penalty")) for k in AWARD}

    def explain(exc: Problem) -> None:  # the cap that was exceeded, in yuan, next to the award
        if (exc.rule or "").startswith("legal.judgment_cap.") and until is not None:
            lc = session.get(LegalCase, legal_case_id)
            loan = session.get(Loan, lc.loan_id)
            cat = catalog()
            f.cap = binding_cap(principal_fen=award["principal"], disbursed_on=loan.disbursed_on,  # type: ignore[attr-defined]
                                interest_until=until, product=cat.product(loan.product_code), legal=cat.legal,
                                policy=policy())
            f.charges_fen = award["interest"] + award["penalty"] + award["fee"]  # type: ignore[attr-defined]

    fields = {f"award.{k}_fen": k for k in AWARD} | {f"{k}_fen": k for k in AWARD} | {"award": "award"}
    return _submit(request, session, cipher, today, legal_case_id, f, lambda me: service.record_judgment(
        session, legal_case_id=legal_case_id, expected_version=f.version(), judgment_no=number, judgment_on=on,
        served_on=served, interest_until=until, performance_days=days, actor=me.actor,
        award=Award(*(award[k] for k in AWARD))), fields, "judgment", explain=explain)


@router.post("/legal/{legal_case_id}/enforcement", response_class=HTMLResponse)
def add_enforcement(legal_case_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
                    version: Text = "", kind: Text = "", taken_on: Text = "", reference: Text = "",
                    amount: Text = "", note: Text = "") -> Response:
    f = Fields("enforcement", {"version": version, "kind": kind, "taken_on": taken_on, "reference": reference,
                               "amount": amount, "note": note})
    values = {"kind": f.choice("kind", policy().enforcement_actions), "taken_on": f.day("taken_on"),
              "reference": f.text("reference", 120, required=False),
              "amount_fen": f.amount("amount", positive=False, required=False),
              "note": f.text("note", 500, required=False)}
    return _submit(request, session, cipher, today, legal_case_id, f, lambda me: outcomes.add_enforcement_action(
        session, legal_case_id=legal_case_id, expected_version=f.version(), actor=me.actor, **values),
        {"amount_fen": "amount"}, "enforcement")


@router.post("/legal/{legal_case_id}/cost", response_class=HTMLResponse)
def add_cost(legal_case_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
             kind: Text = "", amount: Text = "", incurred_on: Text = "", note: Text = "") -> Response:
    f = Fields("cost", {"kind": kind, "amount": amount, "incurred_on": incurred_on, "note": note})
    values = {"kind": f.choice("kind", policy().cost_kinds), "amount_fen": f.amount("amount"),
              "incurred_on": f.day("incurred_on"), "note": f.text("note", 300, required=False)}
    return _submit(request, session, cipher, today, legal_case_id, f, lambda me: service.add_cost(
        session, legal_case_id=legal_case_id, actor=me.actor, **values), {"amount_fen": "amount"}, "costs")


@router.post("/legal/{legal_case_id}/recovery", response_class=HTMLResponse)
def record_recovery(legal_case_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
                    amount: Text = "", received_on: Text = "", source: Text = "", key: Text = "") -> Response:
    """``key`` is a hidden one-time key from the page: submitting the same form twice records one recovery."""
    f = Fields("recovery", {"amount": amount, "received_on": received_on, "source": source, "key": key})
    values = {"amount_fen": f.amount("amount"), "received_on": f.day("received_on"),
              "source": f.choice("source", SOURCES), "idempotency_key": f.text("key", 100)}
    return _submit(request, session, cipher, today, legal_case_id, f, lambda me: outcomes.record_recovery(
        session, legal_case_id=legal_case_id, actor=me.actor, today=today, **values),
        {"amount_fen": "amount", "idempotency_key": "form"}, "recoveries")


def _instalments(f: Fields, field: str) -> list[dict]:
    """Lines "YYYY-MM-DD 1,234.56" into the settled plan's instalments; any other line refuses the field."""
    lines = [line.split() for line in f.values.get(field, "").splitlines() if line.strip()]
    plan = []
    for parts in lines:
        try:
            plan.append({"due_on": date.fromisoformat(parts[0]).isoformat(), "amount_fen": yuan_to_fen(parts[1])})
        except (IndexError, ValueError, MoneyError):
            f.refuse(field, "lines")
            return []
        if len(parts) != 2 or plan[-1]["amount_fen"] <= 0:
            f.refuse(field, "lines")
    if not lines:
        f.refuse(field, "required")
    return plan


@router.post("/legal/{legal_case_id}/settlement", response_class=HTMLResponse)
def settle(legal_case_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
           version: Text = "", settled_on: Text = "", total: Text = "", instalments: Text = "",
           waived: Text = "") -> Response:
    f = Fields("settlement", {"version": version, "settled_on": settled_on, "total": total,
                              "instalments": instalments, "waived": waived})
    on, total_fen = f.day("settled_on"), f.amount("total")
    waived_fen, plan = f.amount("waived", positive=False, required=False), _instalments(f, "instalments")
    return _submit(request, session, cipher, today, legal_case_id, f, lambda me: outcomes.settle(
        session, legal_case_id=legal_case_id, expected_version=f.version(), settled_on=on, total_fen=total_fen,
        terms={"instalments": plan, "waived_fen": waived_fen}, actor=me.actor),
        {"total_fen": "total", "terms.instalments": "instalments", "terms.waived_fen": "waived"}, "settlement")


@router.post("/legal/{legal_case_id}/close", response_class=HTMLResponse)
def close(legal_case_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
          version: Text = "", outcome: Text = "", reason: Text = "") -> Response:
    f = Fields("close", {"version": version, "outcome": outcome, "reason": reason})
    values = {"outcome": f.choice("outcome", outcomes.OUTCOMES), "reason": f.text("reason", 300)}
    return _submit(request, session, cipher, today, legal_case_id, f, lambda me: outcomes.close_legal_case(
        session, legal_case_id=legal_case_id, expected_version=f.version(), today=today, actor=me.actor,
        **values), anchor="close")


@router.post("/legal/{legal_case_id}/notice", response_class=HTMLResponse)
def queue_notice(legal_case_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
                 kind: Text = "", channel: Text = "letter", firm: Text = "", lawyer: Text = "") -> Response:
    """A lawyer's letter or pre-suit notice through the compliance guard; a refusal shows the guard's rule."""
    f = Fields("notice", {"kind": kind, "channel": channel, "firm": firm, "lawyer": lawyer})
    values = {"kind": f.choice("kind", policy().notices), "channel": f.choice("channel", ("letter", "email")),
              "firm": f.text("firm", 120, required=False) or None,
              "lawyer": f.text("lawyer", 60, required=False) or None}
    lc = session.get(LegalCase, legal_case_id)

    def explain(exc: Problem) -> None:  # the guard's rule with its reason, from the loan's compliance profile
        loan = session.get(Loan, lc.loan_id)
        rules = packaged_profiles()[catalog().product(loan.product_code).compliance_profile].rules
        f.guard = rules.get(exc.rule or "")  # type: ignore[attr-defined]

    return _submit(request, session, cipher, today, legal_case_id, f, lambda me: send_notice(
        session, cipher=cipher, case_id=lc.case_id, actor=me.actor, now=utcnow(), today=today, **values),
        anchor="notices", explain=explain)


@router.post("/legal/{legal_case_id}/evidence-bundle", response_class=HTMLResponse)
def evidence_bundle(legal_case_id: int, request: Request, session: SessionDep, cipher: CipherDep,
                    today: Today) -> Response:
    """Builds the evidence bundle now (audited) and downloads it."""
    f = Fields("evidence", {})
    lc = session.get(LegalCase, legal_case_id)

    def build(me) -> Response:
        bundle = build_bundle(session, cipher=cipher, case_id=lc.case_id, actor=me.actor, now=utcnow(),
                              letters_dir=request.app.state.settings.data_dir / "letters")
        return Response(bundle.data, media_type="application/zip", headers={
            "Content-Disposition": f'attachment; filename="evidence-case-{lc.case_id}.zip"',
            "X-Manifest-SHA256": bundle.manifest_sha256, "Cache-Control": "no-store"})

    return _submit(request, session, cipher, today, legal_case_id, f, build, permission=Permission.legal_evidence)

"""What goes into a case's evidence bundle, read in a handful of queries: each part is an original file (CSV,
JSON, the notices' texts) and a table for the index PDF. Personal data appears in clear (the bundle is for the
court); who may build it is a permission, and building it is audited (``bundle.build_bundle``).

Audit events are included generically: every event of the borrower, the loan, its collection cases and legal
cases, except those that name another loan or case. So records that later capabilities add (hardship
applications, offers, agreements …) appear in the bundle without any change here, as long as they append
events with the borrower, or name the loan or case.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from arrears.audit.tables import Event
from arrears.cases.tables import Case, ContactLog, PromiseToPay
from arrears.contact.tables import OutboxMessage
from arrears.ledger.tables import JournalEntry, Posting
from arrears.legal.notices import case_parts
from arrears.legal.tables import (
    Deadline,
    EnforcementAction,
    Hearing,
    LegalCase,
    LegalCost,
    Recovery,
    Settlement,
)
from arrears.loans.tables import Instalment, Payment, PaymentAllocation
from arrears.money import format_yuan
from arrears.privacy import PersonalDataCipher


@dataclass
class Part:
    """One original file of the bundle and how the index shows it."""

    path: str
    title_zh: str
    data: bytes
    columns: list[str] = field(default_factory=list)  # the index PDF's table of this part
    rows: list[list[str]] = field(default_factory=list)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def _csv(columns: list[str], rows: list[list[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[_cell(v) for v in row] for row in rows])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: spreadsheet programs read the Chinese right


def _json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=_cell).encode("utf-8")


def _table(path: str, title: str, columns: list[str], rows: list[list[object]], show: list[int] | None = None,
           money: tuple[int, ...] = ()) -> Part:
    """A CSV part; the index shows columns ``show`` (all by default), fen columns ``money`` as yuan."""
    show = show if show is not None else list(range(len(columns)))
    shown = [[format_yuan(r[i]) if i in money and isinstance(r[i], int) else _cell(r[i]) for i in show] for r in rows]
    return Part(path, title, _csv(columns, rows), [columns[i] for i in show], shown)


def _cols(model: type, names: str) -> list:
    return [getattr(model, n) for n in names.split()]


def gather(session: Session, cipher: PersonalDataCipher, case_id: int) -> tuple[dict, list[Part]]:
    case, loan, borrower = case_parts(session, case_id)
    dec = lambda blob: cipher.decrypt(blob) if blob is not None else None  # noqa: E731
    cases = list(session.scalars(select(Case).where(Case.loan_id == loan.id).order_by(Case.id)))
    legal = list(session.scalars(select(LegalCase).where(LegalCase.loan_id == loan.id).order_by(LegalCase.id)))
    head = {"case_id": case.id, "loan_no": loan.loan_no, "borrower_name": dec(borrower.name_enc),
            "borrower_no": borrower.borrower_no, "court_case_no": next((x.court_case_no for x in legal
                                                                        if x.court_case_no), None)}
    contract = {
        "loan": {k: getattr(loan, k) for k in ("id", "loan_no", "product_code", "repayment_method", "principal_fen",
                                               "annual_rate", "term", "disbursed_on", "first_due_on", "status",
                                               "restructured", "restructured_on")},
        "borrower": {"borrower_no": borrower.borrower_no, "name": dec(borrower.name_enc),
                     "id_number": dec(borrower.id_number_enc), "phone": dec(borrower.phone_enc),
                     "email": dec(borrower.email_enc), "address": dec(borrower.address_enc)},
        "cases": [{k: getattr(c, k) for k in ("id", "stage", "status", "close_reason", "opened_on", "closed_on")}
                  for c in cases]}
    parts = [Part("01_contract.json", "借款合同信息", _json(contract), ["项目", "内容"], [
        ["合同编号", loan.loan_no], ["产品", loan.product_code], ["借款本金(元)", format_yuan(loan.principal_fen)],
        ["年利率", str(loan.annual_rate)], ["期数", str(loan.term)], ["放款日", loan.disbursed_on.isoformat()],
        ["借款人", contract["borrower"]["name"]], ["身份证号", contract["borrower"]["id_number"]],
        ["手机", contract["borrower"]["phone"]], ["地址", contract["borrower"]["address"] or ""]])]

    comps = ("principal", "interest", "penalty", "fee", "cost")
    inst = session.execute(select(Instalment.seq, Instalment.due_on, *[
        getattr(Instalment, f"{c}_{k}_fen") for k in ("due", "paid", "waived") for c in comps])
        .where(Instalment.loan_id == loan.id).order_by(Instalment.seq)).all()
    inst_cols = ["seq", "due_on"] + [f"{c}_{k}_fen" for k in ("due", "paid", "waived") for c in comps]
    parts.append(_table("02_schedule.csv", "还款计划", inst_cols, [list(r) for r in inst],
                        [0, 1, 2, 3, 4, 7, 8, 9], money=(2, 3, 4, 7, 8, 9)))

    pay_cols = "id received_on amount_fen channel external_ref status to_credit_fen reversal_reason created_at"
    pays = session.execute(select(*_cols(Payment, pay_cols)).where(Payment.loan_id == loan.id)
                           .order_by(Payment.received_on, Payment.id)).all()
    parts.append(_table("03_payments.csv", "还款记录", pay_cols.split(), [list(r) for r in pays], [0, 1, 2, 3, 5],
                        money=(2,)))
    alloc_cols = "payment_id source instalment_id component amount_fen value_date"
    allocs = session.execute(select(*_cols(PaymentAllocation, alloc_cols)).where(PaymentAllocation.loan_id == loan.id)
                             .order_by(PaymentAllocation.id)).all()
    parts.append(_table("04_allocations.csv", "还款分配明细", alloc_cols.split(), [list(r) for r in allocs],
                        money=(4,)))

    ledger = session.execute(select(JournalEntry.id, JournalEntry.business_date, JournalEntry.kind,
                                    Posting.account, Posting.debit_fen, Posting.credit_fen, JournalEntry.memo)
                             .join(Posting, Posting.entry_id == JournalEntry.id)
                             .where(JournalEntry.loan_id == loan.id).order_by(JournalEntry.id, Posting.id)).all()
    parts.append(_table("05_ledger.csv", "账务明细(分录)", ["entry_id", "business_date", "kind", "account",
                                                        "debit_fen", "credit_fen", "memo"],
                        [list(r) for r in ledger], [0, 1, 2, 3, 4, 5], money=(4, 5)))

    case_ids = [c.id for c in cases]
    log_cols = "id case_id at method party purpose allowed refused_rule outcome recording_ref agent_user_id outbox_id"
    logs = session.execute(select(*_cols(ContactLog, log_cols), ContactLog.note_enc)
                           .where(ContactLog.loan_id == loan.id).order_by(ContactLog.at, ContactLog.id)).all()
    parts.append(_table("06_contact_log.csv", "催收联系记录", log_cols.split() + ["note"],
                        [list(r[:-1]) + [dec(r[-1])] for r in logs], [2, 3, 4, 5, 6, 8]))

    msgs = list(session.scalars(select(OutboxMessage).where(OutboxMessage.loan_id == loan.id)
                                .order_by(OutboxMessage.created_at, OutboxMessage.id)))
    msg_rows = [[m.id, m.case_id, m.channel, m.template, m.language, m.purpose, m.status, m.created_at, m.sent_at,
                 m.dedupe_key, dec(m.subject_enc)] for m in msgs]
    parts.append(_table("07_notices.csv", "已发送通知", ["id", "case_id", "channel", "template", "language", "purpose",
                                                    "status", "created_at", "sent_at", "dedupe_key", "subject"],
                        msg_rows, [2, 3, 6, 7, 10]))
    for m in msgs:
        text = f"{dec(m.subject_enc)}\n\n{dec(m.recipient_enc) or ''}\n\n{dec(m.body_enc)}\n"
        parts.append(Part(f"07_notices/{m.id:06d}-{m.template}.txt", f"通知正文 {m.id}", text.encode("utf-8")))

    ptp_cols = "id case_id amount_fen promised_on due_on status resolved_on paid_fen contact_id"
    ptps = session.execute(select(*_cols(PromiseToPay, ptp_cols)).where(PromiseToPay.loan_id == loan.id)
                           .order_by(PromiseToPay.id)).all()
    parts.append(_table("08_promises.csv", "承诺还款记录", ptp_cols.split(), [list(r) for r in ptps],
                        [2, 3, 4, 5, 7], money=(2, 7)))

    parts.append(_legal_part(session, legal))
    parts.append(_events_part(session, borrower.id, loan.id, case_ids, [x.id for x in legal]))
    return head, parts


def _rows(session: Session, model: type, ids: list[int]) -> list[dict]:
    cols = [c.name for c in model.__table__.columns]
    found = session.scalars(select(model).where(model.legal_case_id.in_(ids)).order_by(model.id)) if ids else []
    return [{c: getattr(r, c) for c in cols} for r in found]


def _legal_part(session: Session, legal: list[LegalCase]) -> Part:
    ids = [x.id for x in legal]
    cols = [c.name for c in LegalCase.__table__.columns]
    data = {"legal_cases": [{c: getattr(x, c) for c in cols} for x in legal],
            **{name: _rows(session, model, ids) for name, model in (
                ("hearings", Hearing), ("enforcement_actions", EnforcementAction), ("costs", LegalCost),
                ("recoveries", Recovery), ("settlements", Settlement), ("deadlines", Deadline))}}
    rows = [[str(x.id), x.court or "", x.court_case_no or "", x.phase, x.status, _cell(x.filed_on),
             _cell(x.judgment_on), format_yuan(x.recovered_fen)] for x in legal]
    rows += [["", "执行措施", a["kind"], _cell(a["taken_on"]), a["reference"], "", "", format_yuan(a["amount_fen"])]
             for a in data["enforcement_actions"]]
    return Part("09_litigation.json", "诉讼与执行", _json(data),
                ["编号", "法院", "案号", "阶段", "状态", "立案日", "判决日", "已回收(元)"], rows)


def _events_part(session: Session, borrower_id: int, loan_id: int, case_ids: list[int], legal_ids: list[int]) -> Part:
    subjects = [and_(Event.subject_type == "loan", Event.subject_id == str(loan_id))]
    if case_ids:
        subjects.append(and_(Event.subject_type == "case", Event.subject_id.in_([str(i) for i in case_ids])))
    if legal_ids:
        subjects.append(and_(Event.subject_type == "legal_case", Event.subject_id.in_([str(i) for i in legal_ids])))
    events = session.scalars(select(Event).where(or_(Event.borrower_id == borrower_id, *subjects))
                             .order_by(Event.occurred_at, Event.id))
    own_cases = {str(i) for i in case_ids}
    kept = []
    for e in events:
        named = {**(e.before or {}), **(e.after or {})}
        if (e.subject_type == "loan" and e.subject_id != str(loan_id)) or (
                e.subject_type == "case" and e.subject_id not in own_cases) or (
                "loan_id" in named and named["loan_id"] not in (None, loan_id)) or (
                "case_id" in named and named["case_id"] is not None and str(named["case_id"]) not in own_cases):
            continue  # another loan of the same borrower
        kept.append(e)
    lines = [json.dumps({"id": e.id, "at": _cell(e.occurred_at), "actor": e.actor, "action": e.action,
                         "subject": [e.subject_type, e.subject_id, e.seq], "borrower": e.borrower_id,
                         "before": e.before, "after": e.after, "reason": e.reason, "prev_hash": e.prev_hash,
                         "hash": e.hash}, ensure_ascii=False, sort_keys=True, default=_cell) for e in kept]
    return Part("10_events.jsonl", "审计事件(含困难申请、方案、协议等全部记录)", ("\n".join(lines) + "\n").encode("utf-8"),
                ["时间", "操作人", "事项", "对象"],
                [[_cell(e.occurred_at)[:19], e.actor, e.action, f"{e.subject_type}:{e.subject_id}#{e.seq}"]
                 for e in kept])

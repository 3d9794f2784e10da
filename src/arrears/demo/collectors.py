"""Simulated collectors for ``demo.simulate``: each business day they work every open case through the same
use cases people call (``cases.contacts``, ``promises``, ``visits``, ``service``, ``complaints.service``), so the
guard, the contact log, promises, visits and events are all real. Choices are drawn from a seeded RNG.

Per stage: preparation → reminder after a day; reminder: an SMS, then phone after two days; phone: a call a day
(promises, some kept by a payment before the due date), to a field visit after a broken promise or four
unanswered calls, to legal now and then; field visit: scheduled for the next business day with two collectors,
reported with a recording, a photo and sometimes the community committee; legal → enforcement → closed
(written off, moved to legal or transferred). Hardship may end in an agreement; some settle. One borrower
complains early on, which freezes contact until compliance resolves it."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.auth.service import create_user
from arrears.auth.tables import User
from arrears.calendar import BusinessCalendar
from arrears.cases import contacts, promises, service, visits
from arrears.cases.evidence import EvidenceStore
from arrears.cases.tables import Case, FieldVisit, PromiseToPay
from arrears.complaints import service as complaints
from arrears.db.bulk import fetch_arrow
from arrears.privacy import PersonalDataCipher
from arrears.products.model import COMPONENTS

ACTOR = "sim-collector"
OUTCOMES = (("no_answer", 40), ("right_party", 18), ("promise_to_pay", 27), ("refused", 5), ("hardship_stated", 6),
            ("wrong_number", 4))
_OWED = " + ".join(f"{c.value}_due_fen - {c.value}_paid_fen - {c.value}_waived_fen" for c in COMPONENTS)


@dataclass
class _State:
    entered: date
    unanswered: int = 0
    reminded: bool = False
    visited: bool = False


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([w for w, _ in weighted], weights=[n for _, n in weighted])[0]


def _user(s: Session, username: str, role: str, team: str | None) -> int:
    found = s.scalar(select(User.id).where(User.username == username))
    if found is not None:
        return found
    return create_user(s, username=username, display_name=username, password="sim-" + "x" * 16, role=role,
                       actor="sim", team=team).id


class Collectors:
    def __init__(self, s: Session, cipher: PersonalDataCipher, rng: random.Random, evidence_root: Path,
                 calendar: BusinessCalendar) -> None:
        self.cipher, self.rng, self.calendar = cipher, rng, calendar
        self.store = EvidenceStore(evidence_root)
        self.pair = (_user(s, "collector", "collector", "催收一组"), _user(s, "collector2", "collector", "催收一组"))
        self.supervisor = _user(s, "supervisor", "supervisor", "催收一组")
        self.state: dict[int, _State] = {}
        self.pending: list[tuple[date, int, int]] = []  # (pay on, loan, amount): promises the borrower keeps
        self.complaint: tuple[int, date] | None = None  # (id, resolve on)

    def payments_due(self, day: date) -> list[tuple[int, int]]:
        due = [(loan, amount) for on, loan, amount in self.pending if on <= day]
        self.pending = [p for p in self.pending if p[0] > day]
        return due

    def work(self, s: Session, day: date, n: int) -> None:
        cases = s.scalars(select(Case).where(Case.status == "open").order_by(Case.id)).all()
        owed = {r["loan_id"]: int(r["owed"]) for r in fetch_arrow(s, f"""
            SELECT i.loan_id, SUM({_OWED}) AS owed FROM instalments i
            JOIN cases c ON c.loan_id = i.loan_id AND c.status = 'open' WHERE i.due_on <= :d
            GROUP BY i.loan_id""", {"d": day}).to_pylist()}
        broken = set(s.scalars(select(PromiseToPay.case_id).where(PromiseToPay.status == "broken",
                                                                  PromiseToPay.resolved_on == day)))
        self._complaints(s, day, n, cases)
        for k, case in enumerate(cases):
            state = self.state.setdefault(case.id, _State(case.opened_on))
            at = datetime(day.year, day.month, day.day, 2, tzinfo=UTC) + timedelta(minutes=k % 300)
            self._act(s, case, state, day, at, owed.get(case.loan_id, 0), case.id in broken)

    def _move(self, s: Session, case: Case, state: _State, to: str, day: date, why: str) -> None:
        service.move_stage(s, case_id=case.id, to_stage=to, actor=ACTOR, reason=why, expected_version=case.version,
                           today=day)
        self.state[case.id] = _State(day)

    def _close(self, s: Session, case: Case, reason: str, day: date) -> None:
        service.close_case(s, case_id=case.id, close_reason=reason, actor="supervisor", today=day,
                           expected_version=case.version, reason="模拟 / simulated")

    def _contact(self, s: Session, case: Case, method: str, at: datetime, outcome: str | None):  # noqa: ANN202
        return contacts.request_contact(s, cipher=self.cipher, case_id=case.id, method=method, party="debtor",
                                        purpose="collect", at=at, actor=ACTOR, agent_user_id=self.pair[0],
                                        outcome=outcome, recording_ref="rec://sim/call" if method == "call" else None)

    def _act(self, s: Session, case: Case, state: _State, day: date, at: datetime, owed: int, broke: bool) -> None:
        rng, age = self.rng, (day - state.entered).days
        if case.stage == "preparation" and age >= 1:
            self._move(s, case, state, "reminder", day, "逾期事实已核实")
        elif case.stage == "reminder":
            if not state.reminded:
                state.reminded = self._contact(s, case, "sms", at, "left_message").decision.allowed
            elif age >= 2:
                self._move(s, case, state, "phone", day, "提醒后未还款")
        elif case.stage == "phone":
            self._phone(s, case, state, day, at, owed, broke)
        elif case.stage == "field_visit":
            self._visit(s, case, state, day, at)
        elif case.stage == "legal" and age >= 5:
            self._move(s, case, state, "enforcement", day, "判决已生效")
        elif case.stage == "enforcement" and age >= 5:
            self._close(s, case, rng.choice(("written_off", "moved_to_legal", "transferred")), day)

    def _phone(self, s: Session, case: Case, state: _State, day: date, at: datetime, owed: int, broke: bool) -> None:
        rng = self.rng
        if broke or state.unanswered >= 4:
            return self._move(s, case, state, "field_visit", day, "承诺未兑现或无法联系")
        if (day - state.entered).days >= 12 and rng.randrange(100) < 15:
            return self._move(s, case, state, "legal", day, "长期未还款")
        outcome = _pick(rng, OUTCOMES)
        open_promise = s.scalar(select(PromiseToPay.id).where(PromiseToPay.case_id == case.id,
                                                              PromiseToPay.status == "open"))
        if outcome == "promise_to_pay" and (open_promise is not None or owed <= 0):
            outcome = "right_party"
        result = self._contact(s, case, "call", at, outcome)
        if not result.decision.allowed:
            return None
        if outcome in ("no_answer", "wrong_number"):
            state.unanswered += 1
        elif outcome == "promise_to_pay":
            due = day + timedelta(days=rng.randint(2, 7))
            amount = owed if rng.randrange(100) < 70 else max(100, owed // 2)
            promises.create_promise(s, contact_id=result.contact.id, amount_fen=amount, due_on=due, promised_on=day,
                                    actor=ACTOR)
            if rng.randrange(100) < 60:  # kept: paid on a business day no later than the due date
                self.pending.append((day + timedelta(days=rng.randint(1, (due - day).days)), case.loan_id, amount))
        elif outcome == "hardship_stated" and rng.randrange(100) < 35:
            self._close(s, case, "agreement_in_force", day)
        elif outcome == "right_party" and rng.randrange(100) < 6:
            self._close(s, case, "settled", day)
        return None

    def _visit(self, s: Session, case: Case, state: _State, day: date, at: datetime) -> None:
        rng = self.rng
        if state.visited:
            return self._move(s, case, state, "legal" if rng.randrange(100) < 50 else "phone", day, "上门后续处理")
        visit = s.scalar(select(FieldVisit).where(FieldVisit.case_id == case.id, FieldVisit.status == "scheduled"))
        if visit is None:
            planned = at + timedelta(days=(self.calendar.add_business_days(day, 1) - day).days)
            visits.schedule_visit(s, cipher=self.cipher, case_id=case.id, address_type="home", actor=ACTOR,
                                  planned_at=planned, collector_user_id=self.pair[0],
                                  second_collector_user_id=self.pair[1])
        elif visit.planned_at.date() <= day:
            photo = self.store.put(b"\xff\xd8\xff\xe0" + f"visit {visit.id} {day}".encode() * 4, "image/jpeg")
            committee = rng.randrange(100) < 40
            visits.report_visit(s, cipher=self.cipher, store=self.store, visit_id=visit.id, actor=ACTOR,
                                outcome=rng.choice(("right_party", "hardship_stated", "no_answer")),
                                report="上门核实情况 / visit report (simulated)",
                                recording_ref=f"rec://sim/visit/{visit.id}", expected_version=visit.version,
                                at=max(at, visit.planned_at), evidence=[photo.sha256],
                                committee_involved=committee, committee_name="社区居民委员会" if committee else None)
            state.visited = True
        return None

    def _complaints(self, s: Session, day: date, n: int, cases: list[Case]) -> None:
        if self.complaint is None and n >= 3:
            target = next((c for c in cases if c.stage == "phone"), None)
            if target is not None:
                filed = complaints.file_complaint(
                    s, cipher=self.cipher, borrower_id=target.borrower_id, case_id=target.id, category="harassment",
                    channel="portal", text="催收电话太频繁 (simulated)", actor="borrower",
                    filed_at=datetime(day.year, day.month, day.day, 1, tzinfo=UTC))
                self.complaint = (filed.id, self.calendar.add_business_days(day, 5))
        elif self.complaint is not None and self.complaint[1] == day:
            c = complaints.get_complaint(s, self.complaint[0])
            complaints.take_on(s, complaint_id=c.id, assignee_user_id=self.supervisor, expected_version=c.version,
                               actor="compliance")
            complaints.close_complaint(s, cipher=self.cipher, complaint_id=c.id, status="resolved",
                                       resolution="已核实并调整联系频率", expected_version=c.version,
                                       actor="compliance", at=datetime(day.year, day.month, day.day, 3, tzinfo=UTC))

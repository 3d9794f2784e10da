"""Shared by the legal desk's page tests: 小李's loan taken overdue by end of day (which opens his collection case),
moved through the stages to law by the services, and complaints filed through complaints.service."""

from __future__ import annotations

from datetime import UTC, date, datetime
from html.parser import HTMLParser

from sqlalchemy import select

from arrears.cases.service import move_stage
from arrears.cases.tables import Case
from arrears.complaints.service import file_complaint
from arrears.db.engine import unit_of_work
from arrears.delinquency.service import run_date
from arrears.delinquency.snapshots import SnapshotStore
from arrears.legal.service import open_legal_case
from arrears.privacy import PersonalDataCipher
from support import add_borrower, add_loan

BUSINESS_DATE = "2024-06-03"
TODAY = date(2024, 6, 3)
OVERDUE_ON = date(2024, 3, 10)  # instalments of 02-01 and 03-01 unpaid
NAME, ID_NUMBER, PHONE = "李小明", "310101199001011234", "13900002222"
ADDRESS = "上海市浦东新区世纪大道 100 号 2 栋 302 室"


def xiao_li(db, tmp_path, secret_key: str, *, legal: bool = True) -> dict:
    """小李 (B-LI, loan L-LI, 3 × 1,025.00 yuan due 2024-02-01 … 04-01) overdue since February, his collection
    case opened by end of day and, if ``legal``, taken to law (legal case at version 1). Returns the ids."""
    cipher = PersonalDataCipher(secret_key)
    with unit_of_work(db.factory) as s:
        b = add_borrower(s, "B-LI", NAME, ID_NUMBER, PHONE, cipher=cipher, address=ADDRESS)
        ids = {"borrower": b.id, "loan": add_loan(s, b, "L-LI").id}
    run_date(db.factory, SnapshotStore(tmp_path / "snapshots"), OVERDUE_ON, today=TODAY)
    with unit_of_work(db.factory) as s:
        case = s.scalars(select(Case).where(Case.loan_id == ids["loan"])).one()
        ids["case"] = case.id
        if legal:
            for stage in ("reminder", "phone"):
                case = move_stage(s, case_id=case.id, to_stage=stage, actor="t", reason="无人接听",
                                  expected_version=case.version, today=date(2024, 3, 20))
            ids["legal_case"] = open_legal_case(s, case_id=case.id, expected_case_version=case.version, actor="t",
                                                reason="转法务", today=TODAY).id
    return ids


def complain(db, secret_key: str, borrower_id: int, *, category: str = "harassment",
             filed_at: datetime = datetime(2024, 5, 30, 2, 0, tzinfo=UTC), text: str = "晚上十点后还打电话",
             **kw) -> int:
    with unit_of_work(db.factory) as s:
        return file_complaint(s, cipher=PersonalDataCipher(secret_key), borrower_id=borrower_id, category=category,
                              channel="portal", text=text, filed_at=filed_at, actor="b-li", **kw).id


class _Fields(HTMLParser):
    """Form fields without a label, column headers without a scope, and whether the skip link comes first."""

    def __init__(self) -> None:
        super().__init__()
        self.labels: set[str] = set()
        self.fields: list[dict] = []
        self.unscoped = 0
        self.first_link: dict | None = None
        self._thead = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and self.first_link is None:
            self.first_link = a
        if tag == "label" and a.get("for"):
            self.labels.add(a["for"])
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.fields.append(a)
        self._thead = True if tag == "thead" else self._thead
        if tag == "th" and self._thead and "scope" not in a:
            self.unscoped += 1

    def handle_endtag(self, tag):
        if tag == "thead":
            self._thead = False


def accessibility_problems(html: str) -> list[str]:
    page = _Fields()
    page.feed(html)
    problems = [f"no label for {f}" for f in page.fields if f.get("id") not in page.labels]
    problems += [f"{page.unscoped} column headers without scope"] if page.unscoped else []
    if not page.first_link or page.first_link.get("class") != "skip-link":
        problems.append("the skip link is not first")
    return problems

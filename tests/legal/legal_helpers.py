"""Shared by the legal tests: 小李's loan taken overdue by end of day (which opens the collection case), his
unanswered contact attempts, and the legal officer."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from arrears.auth import service as auth
from arrears.cases.tables import Case, ContactLog
from arrears.db.engine import unit_of_work
from arrears.delinquency.service import run_date
from arrears.delinquency.snapshots import SnapshotStore
from support import CIPHER, add_borrower, add_loan

TODAY = date(2024, 9, 30)
OVERDUE_ON = date(2024, 3, 10)  # 小李 has paid nothing: the instalments of 02-01 and 03-01 are overdue
NOW = datetime(2024, 6, 3, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai: outside quiet hours
ADDRESS = "上海市浦东新区世纪大道 100 号 2 栋 302 室"


def xiao_li(db, tmp_path, *, attempts: int = 6, cipher=CIPHER) -> dict:  # noqa: ANN001
    """小李 (B-LI, loan L-LI: 3 × 102,500 fen due 2024-02-01 … 04-01) overdue since February; end of day on
    OVERDUE_ON opens his case; ``attempts`` calls to him went unanswered. Returns the ids."""
    with unit_of_work(db.factory) as s:
        b = add_borrower(s, "B-LI", "李小明", "310101199001011234", "13900002222", address=ADDRESS,
                         cipher=cipher)
        loan = add_loan(s, b, "L-LI")
        officer = auth.create_user(s, username="fawu", display_name="法务专员", password="correct horse battery",
                                   role="legal", actor="setup")
        ids = {"borrower": b.id, "loan": loan.id, "officer": officer.id}
    run_date(db.factory, SnapshotStore(tmp_path / "snapshots"), OVERDUE_ON, today=TODAY)
    with unit_of_work(db.factory) as s:
        case = s.scalars(select(Case).where(Case.loan_id == ids["loan"])).one()
        ids["case"] = case.id
        start = datetime(2024, 3, 11, 2, 0, tzinfo=UTC)
        for k in range(attempts):  # unanswered calls, spread over days
            s.add(ContactLog(case_id=case.id, borrower_id=ids["borrower"], loan_id=ids["loan"],
                             at=start + timedelta(days=k, minutes=7 * k), method="call", party="debtor",
                             purpose="collect", allowed=True, outcome="no_answer" if k % 2 else "unreachable",
                             note_enc=cipher.encrypt(f"第{k + 1}次致电,无人接听")))
    return ids


def case_version(db, case_id: int) -> int:
    with db.session() as s:
        return s.get(Case, case_id).version

"""The notice before a borrower's first negative record (征信业管理条例 Art. 15), queued through the outbox."""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow as pa
from sqlalchemy.orm import Session

from arrears.contact.outbox import queue_message
from arrears.credit.policy import CreditPolicy
from arrears.credit.tables import CreditNegativeNotice
from arrears.loans.tables import Borrower, Loan
from arrears.privacy import PersonalDataCipher

TEMPLATE = "credit_negative_notice"


def queue_negative_notices(session: Session, to_notify: pa.Table, *, today: date, cipher: PersonalDataCipher,
                           actor: str, policy: CreditPolicy, channel: str = "sms") -> int:
    """One notice per borrower in ``to_notify`` (borrower_id, loan_id, dpd, overdue_fen). Each message is
    rendered in the borrower's language, so this is one outbox call per borrower (only borrowers becoming
    negative for the first time, a small share of a month's accounts)."""
    report_after = today + timedelta(days=policy.negative_notice.wait_days)
    for row in to_notify.to_pylist():
        borrower, loan = session.get(Borrower, row["borrower_id"]), session.get(Loan, row["loan_id"])
        message = queue_message(
            session, cipher=cipher, borrower_id=borrower.id, loan_id=loan.id, channel=channel, template=TEMPLATE,
            variables={"borrower_name": cipher.decrypt(borrower.name_enc), "loan_no": loan.loan_no,
                       "days_overdue": int(row["dpd"]), "amount_owed_fen": int(row["overdue_fen"]),
                       "report_after": report_after},
            dedupe_key=f"credit-negative:{borrower.id}", actor=actor)
        session.add(CreditNegativeNotice(borrower_id=borrower.id, loan_id=loan.id, outbox_id=message.id,
                                         queued_on=today))
    session.flush()
    return to_notify.num_rows

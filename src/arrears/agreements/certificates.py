"""Settlement certificates (结清证明) for completed agreements: rendered, stored by SHA-256, digest in the chain.

Rendering needs the borrower's name, so it runs where the cipher is at hand: end of day when given one, the
API when the certificate is first asked for, or ``arrears agreements certificates``. One PDF per completed
agreement is per-document work by nature (a few milliseconds each)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.agreements import documents, render
from arrears.agreements.execution import plan_total_paid
from arrears.agreements.service import number
from arrears.agreements.tables import Agreement
from arrears.audit.service import append_event
from arrears.contact.templates import catalog as template_catalog
from arrears.loans.tables import Borrower, Loan
from arrears.privacy import PersonalDataCipher, mask_id_number


def issue_certificates(session: Session, *, cipher: PersonalDataCipher, agreement_ids: list[int] | None = None,
                       actor: str = "system") -> int:
    """Renders the certificate of every completed agreement that has none yet (or of the given ones)."""
    stmt = select(Agreement).where(Agreement.status == "completed", Agreement.certificate_sha256.is_(None))
    if agreement_ids is not None:
        stmt = stmt.where(Agreement.id.in_(agreement_ids))
    issued = 0
    for a in session.scalars(stmt.order_by(Agreement.id)).all():
        loan, borrower = session.get(Loan, a.loan_id), session.get(Borrower, a.borrower_id)
        lang = "zh" if a.language.startswith("zh") else "en"
        data = render.certificate_data(
            number=number(a), language=a.language, institution=template_catalog().institution.name.get(lang),
            borrower_name=cipher.decrypt(borrower.name_enc),
            id_masked=mask_id_number(cipher.decrypt(borrower.id_number_enc)), loan_no=loan.loan_no,
            settled_on=a.ended_on, total_paid_fen=plan_total_paid(session, a.loan_id, a.seq_from, a.seq_to))
        a.certificate_sha256 = documents.put(session, render.render_pdf(render.CERTIFICATE, data, a.language))
        session.flush()
        append_event(session, actor=actor, action="agreement.certificate_issued", subject_type="agreement",
                     subject_id=a.id, borrower_id=a.borrower_id,
                     after={"certificate_sha256": a.certificate_sha256, "status": a.status})
        issued += 1
    return issued

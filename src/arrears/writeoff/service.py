"""Write-off (核销): a batch selected by the policy's rules (maker), approved or rejected by someone else with
the permission (checker); on approval each loan's receivables go to ``loan_loss`` in one balanced entry per
loan, the loans leave active collection (status ``written_off``, case closed ``written_off``), the debtor is
told that the debt is still owed, and credit reporting gets a write-off event. Money received later is posted
to ``recovery_income`` and reported (``record_recovery``)."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.audit.service import append_event
from arrears.auth.model import Permission, Principal
from arrears.contact.outbox import queue_message
from arrears.db.bulk import insert_arrow
from arrears.db.versioned import flush_versioned, load_versioned
from arrears.errors import Conflict, Forbidden, InvalidInput, NotFound
from arrears.ledger.model import Account, EntryKind, credit, debit
from arrears.ledger.service import post_entry
from arrears.loans.tables import Borrower, Loan
from arrears.privacy import PersonalDataCipher
from arrears.writeoff.exits import leave_book, outstanding, post_entries, receivable_legs
from arrears.writeoff.hooks import loans_under_agreement, loans_with_legal_outcome
from arrears.writeoff.policy import ExitPolicy, exit_policy
from arrears.writeoff.tables import ExitItem, LoanExit, Recovery, WriteOffBatch

ITEM_COLUMNS = ["loan_id", "borrower_id", "dpd", "bucket", "classification", "principal_fen", "interest_fen",
                "penalty_fen", "fee_fen", "cost_fen", "balance_fen"]


def require(principal: Principal, permission: Permission) -> None:
    if not principal.can(permission):
        raise Forbidden(f"{principal.role} may not do this (needs {permission.value})", rule="auth.permission")


def _items(table: pa.Table, kind: str, batch_id: int) -> pa.Table:
    n = table.num_rows
    return table.select(ITEM_COLUMNS).append_column("batch_kind", pa.array([kind] * n)) \
        .append_column("batch_id", pa.array([batch_id] * n, pa.int64())) \
        .append_column("expected_recovery_fen", pa.array([0] * n, pa.int64()))


def propose_write_off(session: Session, *, principal: Principal, today: date,
                      policy: ExitPolicy | None = None) -> WriteOffBatch:
    """Selects every active loan the rules name — (dpd ≥ min_dpd and class in classifications) or a legal
    outcome in legal_outcomes — that is not under a valid agreement nor in another open batch."""
    require(principal, Permission.writeoff_propose)
    rules = (policy or exit_policy()).write_off
    classes = ", ".join("'" + c.replace("'", "''") + "'" for c in rules.classifications)
    legal = [int(x) for x in loans_with_legal_outcome(session, rules.legal_outcomes)]
    legal_sql = f" OR l.id IN ({', '.join(map(str, legal))})" if legal else ""
    chosen = outstanding(session, f"""((d.dpd >= {int(rules.min_dpd)} AND d.classification IN ({classes})){legal_sql})
        AND l.id NOT IN (SELECT x.loan_id FROM exit_items x JOIN writeoff_batches b
                         ON x.batch_kind = 'writeoff' AND b.id = x.batch_id WHERE b.status = 'proposed')""")
    excluded = loans_under_agreement(session)
    if excluded and chosen.num_rows:
        chosen = chosen.filter(pc.invert(pc.is_in(chosen["loan_id"], pa.array(sorted(excluded), pa.int64()))))
    if chosen.num_rows == 0:
        raise InvalidInput("no loan meets the write-off rules", field="rules", rule="writeoff.nothing_selected")
    batch = WriteOffBatch(status="proposed", rules=rules.model_dump(mode="json"), proposed_by=principal.actor,
                          proposed_on=today, loans=chosen.num_rows,
                          amount_fen=int(pc.sum(chosen["balance_fen"]).as_py()))
    session.add(batch)
    session.flush()
    insert_arrow(session, "exit_items", _items(chosen, "writeoff", batch.id))
    append_event(session, actor=principal.actor, action="writeoff.proposed", subject_type="writeoff_batch",
                 subject_id=batch.id, after={"loans": batch.loans, "amount_fen": batch.amount_fen,
                                             "rules": batch.rules})
    return batch


def decide_write_off(session: Session, *, batch_id: int, approve: bool, principal: Principal, today: date,
                     expected_version: int, cipher: PersonalDataCipher, reason: str = "") -> WriteOffBatch:
    """The checker's decision. Approval posts the write-off with the amounts owed now (payments since the
    proposal lower them); a loan paid off or gone since is left out."""
    require(principal, Permission.writeoff_approve)
    batch = load_versioned(session, WriteOffBatch, batch_id, expected_version, "write-off batch", field="batch_id",
                           exists_rule="writeoff.batch_exists", version_rule="writeoff.version")
    if batch.status != "proposed":
        raise Conflict(f"batch {batch_id} is already {batch.status}", field="batch_id", rule="writeoff.proposed")
    if batch.proposed_by == principal.actor:
        raise Forbidden("the maker of a write-off batch cannot also approve it", rule="writeoff.maker_checker")
    batch.status, batch.decided_by, batch.decided_on = ("approved" if approve else "rejected"), principal.actor, today
    flush_versioned(session, "write-off batch", rule="writeoff.version")
    if approve:
        now = outstanding(session, "l.id IN (SELECT loan_id FROM exit_items WHERE batch_kind = 'writeoff' "
                                   f"AND batch_id = {int(batch.id)})")
        memo = f"write-off batch {batch.id}"
        post_entries(session, receivable_legs(now, f"SELECT loan_id, '{Account.loan_loss.value}' AS account, "
                                                   "balance_fen AS debit_fen, 0 AS credit_fen FROM items"),
                     kind=EntryKind.write_off, business_date=today, memo=memo)
        leave_book(session, now, status="written_off", batch_id=batch.id, today=today, actor=principal.actor,
                   close_reason="written_off", special_kind="write_off", detail=memo, action="loan.written_off")
        _notify(session, now, cipher, principal.actor, today, batch.id)
        batch.loans, batch.amount_fen = now.num_rows, int(pc.sum(now["balance_fen"]).as_py() or 0)
    append_event(session, actor=principal.actor, action=f"writeoff.{batch.status}", subject_type="writeoff_batch",
                 subject_id=batch.id, reason=reason, before={"status": "proposed"},
                 after={"status": batch.status, "loans": batch.loans, "amount_fen": batch.amount_fen})
    session.flush()
    return batch


def _notify(session: Session, items: pa.Table, cipher: PersonalDataCipher, actor: str, today: date,
            batch_id: int) -> None:
    """The debtor learns the debt is still owed (one outbox message per debtor: each is rendered in its
    borrower's language)."""
    for row in items.select(["loan_id", "borrower_id", "balance_fen"]).to_pylist():
        borrower, loan = session.get(Borrower, row["borrower_id"]), session.get(Loan, row["loan_id"])
        queue_message(session, cipher=cipher, borrower_id=borrower.id, loan_id=loan.id, channel="sms",
                      template="write_off_notice", dedupe_key=f"write-off:{batch_id}:{loan.id}", actor=actor,
                      variables={"borrower_name": cipher.decrypt(borrower.name_enc), "loan_no": loan.loan_no,
                                 "written_off_on": today, "balance_fen": int(row["balance_fen"])})


def record_recovery(session: Session, *, loan_id: int, amount_fen: int, received_on: date, idempotency_key: str,
                    actor: str, today: date) -> Recovery:
    """Money received on a written-off loan: cash against recovery income (the receivables are gone), the
    reported balance lowered; month-end reports the account again that month."""
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise InvalidInput("must be integer fen > 0", field="amount_fen", rule="amount.positive")
    existing = session.scalar(select(Recovery).where(Recovery.idempotency_key == idempotency_key))
    if existing is not None:
        if (existing.loan_id, existing.amount_fen, existing.received_on) != (loan_id, amount_fen, received_on):
            raise Conflict("a different recovery was recorded under this key", field="idempotency_key",
                           rule="recovery.key_reused")
        return existing
    loan, gone = session.get(Loan, loan_id), session.get(LoanExit, loan_id)
    if loan is None:
        raise NotFound(f"no loan {loan_id}", field="loan_id", rule="loan.exists")
    if gone is None or gone.kind != "written_off":
        raise InvalidInput(f"loan {loan.loan_no} is not written off; post a payment instead", field="loan_id",
                           rule="recovery.written_off_only")
    if received_on > today:
        raise InvalidInput("received_on is in the future", field="received_on", rule="recovery.not_future")
    if amount_fen > gone.amount_fen - gone.recovered_fen:
        raise InvalidInput(f"more than the {gone.amount_fen - gone.recovered_fen} fen still owed", field="amount_fen",
                           rule="recovery.at_most_owed")
    entry = post_entry(session, loan=loan, kind=EntryKind.recovery, business_date=today, memo="recovery after write-off",
                       legs=[debit(Account.cash_clearing, amount_fen), credit(Account.recovery_income, amount_fen)])
    gone.recovered_fen += amount_fen
    gone.last_recovery_on = max(received_on, gone.last_recovery_on or received_on)
    recovery = Recovery(loan_id=loan.id, borrower_id=loan.borrower_id, idempotency_key=idempotency_key,
                        amount_fen=amount_fen, received_on=received_on, entry_id=entry.id)
    session.add(recovery)
    session.flush()
    append_event(session, actor=actor, action="loan.recovery_after_write_off", subject_type="loan",
                 subject_id=loan.id, borrower_id=loan.borrower_id,
                 after={"amount_fen": amount_fen, "received_on": received_on, "recovered_fen": gone.recovered_fen})
    return recovery


def batch_items(session: Session, batch_id: int, kind: str = "writeoff") -> list[ExitItem]:
    return list(session.scalars(select(ExitItem).where(ExitItem.batch_kind == kind, ExitItem.batch_id == batch_id)
                                .order_by(ExitItem.loan_id)))

"""Debt transfer (债权转让): a package of accounts chosen by the policy's rules (or named — refused if under a
valid agreement), valued by recovery rates per M-bucket from the snapshots, exported as files for the buyer,
then sold: the price is split over the loans pro rata to balance, each loan's receivables go out against cash
and a transfer loss (or gain) in one balanced entry, the loans stop being collected (status ``transferred``,
case closed ``transferred``) and each debtor is notified (民法典 Art. 546)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from arrears.audit.service import append_event
from arrears.auth.model import Permission, Principal
from arrears.contact.outbox import queue_message
from arrears.credit.fileformat import file_sha256
from arrears.db.bulk import fetch_arrow, insert_arrow, update_from_arrow
from arrears.delinquency.snapshots import SnapshotStore
from arrears.delinquency.store import completed_dates
from arrears.errors import Conflict, InvalidInput, NotFound
from arrears.ledger.model import Account, EntryKind
from arrears.loans.tables import Borrower, Loan
from arrears.privacy import PersonalDataCipher
from arrears.writeoff.exits import leave_book, outstanding, post_entries, receivable_legs
from arrears.writeoff.hooks import loans_under_agreement
from arrears.writeoff.policy import ExitPolicy, exit_policy
from arrears.writeoff.service import ITEM_COLUMNS, require
from arrears.writeoff.tables import TransferPackage

RULE_AGREEMENT = "transfer.under_agreement"


def recovery_rates(session: Session, store: SnapshotStore, as_of: date, window_days: int) -> pa.Table:
    """(m_bucket, owed_fen, recovered_fen): per M-bucket at the window's start, what the loans then in it owed
    and how much of it they repaid by ``as_of`` (outstanding that went down; loans gone since count as nothing
    recovered). Empty without two snapshots far enough apart."""
    dates = [d for d in completed_dates(session) if d <= as_of]
    start = [d for d in dates if d <= as_of - timedelta(days=window_days)]
    if not dates or not start:
        return pa.table({"m_bucket": pa.array([], pa.string()), "owed_fen": pa.array([], pa.int64()),
                         "recovered_fen": pa.array([], pa.int64())})
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    then, now = str(store.path(start[-1])), str(store.path(dates[-1]))
    table = con.sql(f"""
        SELECT t.m_bucket, CAST(sum(t.total_outstanding_fen) AS BIGINT) AS owed_fen,
               CAST(sum(greatest(0, t.total_outstanding_fen - coalesce(n.total_outstanding_fen,
                                                                        t.total_outstanding_fen))) AS BIGINT)
                   AS recovered_fen
        FROM read_parquet('{then}') t LEFT JOIN read_parquet('{now}') n USING (loan_id)
        WHERE t.dpd > 0 GROUP BY t.m_bucket ORDER BY t.m_bucket""").to_arrow_table()
    con.close()
    return table


def _value(chosen: pa.Table, rates: pa.Table) -> pa.Table:
    """expected_recovery_fen = balance × recovered ÷ owed of the loan's M-bucket, in integer fen (floor)."""
    con = duckdb.connect()
    con.register("c", chosen)
    con.register("r", rates)
    valued = con.sql("""SELECT c.*, CAST(CASE WHEN coalesce(r.owed_fen, 0) = 0 THEN 0
                                         ELSE (CAST(c.balance_fen AS HUGEINT) * r.recovered_fen) // r.owed_fen END AS BIGINT)
                                AS expected_recovery_fen
                        FROM c LEFT JOIN r USING (m_bucket) ORDER BY c.loan_id""").to_arrow_table()
    con.close()
    return valued


def build_package(session: Session, *, code: str, principal: Principal, today: date, store: SnapshotStore,
                  loan_ids: list[int] | None = None, policy: ExitPolicy | None = None) -> TransferPackage:
    """A draft package: the loans named (each must be active, owe something and not be under a valid
    agreement), else every loan the transfer rules select (those under agreement left out)."""
    require(principal, Permission.transfer_manage)
    policy = policy or exit_policy()
    rules = policy.transfer
    if not code or len(code) > 40:
        raise InvalidInput("must be 1–40 characters", field="code", rule="transfer.code")
    if session.query(TransferPackage.id).filter_by(code=code).first() is not None:
        raise Conflict(f"package {code} exists", field="code", rule="transfer.code_unique")
    under = loans_under_agreement(session)
    busy = """l.id NOT IN (SELECT x.loan_id FROM exit_items x JOIN transfer_packages p
                          ON x.batch_kind = 'transfer' AND p.id = x.batch_id WHERE p.status = 'draft')"""
    if loan_ids is not None:
        for loan_id in loan_ids:
            if loan_id in under:
                loan = session.get(Loan, loan_id)
                raise InvalidInput(f"loan {loan.loan_no} is under a valid repayment agreement and cannot be "
                                   "transferred", field="loan_ids", rule=RULE_AGREEMENT)
        ids = ", ".join(str(int(x)) for x in loan_ids) or "NULL"
        chosen = outstanding(session, f"l.id IN ({ids}) AND {busy}")
        missing = sorted(set(loan_ids) - set(chosen["loan_id"].to_pylist()))
        if missing:
            raise InvalidInput(f"loans {missing} are not active, owe nothing or are in another package",
                               field="loan_ids", rule="transfer.loan_eligible")
    else:
        classes = ", ".join("'" + c.replace("'", "''") + "'" for c in rules.classifications)
        chosen = outstanding(session, f"d.dpd >= {int(rules.min_dpd)} AND d.classification IN ({classes}) "
                                      f"AND {busy}")
        if under and chosen.num_rows:
            chosen = chosen.filter(pc.invert(pc.is_in(chosen["loan_id"], pa.array(sorted(under), pa.int64()))))
        chosen = chosen.slice(0, rules.max_accounts)
    if chosen.num_rows == 0:
        raise InvalidInput("no loan meets the transfer rules", field="rules", rule="transfer.nothing_selected")
    valued = _value(chosen, recovery_rates(session, store, today, policy.valuation.window_days))
    package = TransferPackage(code=code, status="draft", created_by=principal.actor, created_on=today,
                              rules=rules.model_dump(mode="json") if loan_ids is None else {"loan_ids": loan_ids},
                              loans=valued.num_rows, balance_fen=int(pc.sum(valued["balance_fen"]).as_py()),
                              expected_recovery_fen=int(pc.sum(valued["expected_recovery_fen"]).as_py()))
    session.add(package)
    session.flush()
    n = valued.num_rows
    insert_arrow(session, "exit_items", valued.select([*ITEM_COLUMNS, "expected_recovery_fen"])
                 .append_column("batch_kind", pa.array(["transfer"] * n))
                 .append_column("batch_id", pa.array([package.id] * n, pa.int64())))
    append_event(session, actor=principal.actor, action="transfer.package_built", subject_type="transfer_package",
                 subject_id=package.id, after={"code": code, "loans": n, "balance_fen": package.balance_fen,
                                               "expected_recovery_fen": package.expected_recovery_fen})
    return package


def _package(session: Session, package_id: int, expected_version: int | None = None) -> TransferPackage:
    package = session.get(TransferPackage, package_id)
    if package is None:
        raise NotFound(f"no transfer package {package_id}", field="package_id", rule="transfer.package_exists")
    if expected_version is not None and package.version != expected_version:
        raise Conflict(f"package {package_id} is at version {package.version}, not {expected_version}",
                       field="expected_version", rule="transfer.version")
    return package


EXPORTS = {
    "loans.csv": """SELECT l.loan_no, b.borrower_no, l.product_code, l.repayment_method, l.principal_fen,
                           l.annual_rate, l.term, l.disbursed_on, l.first_due_on, x.dpd, x.bucket, x.classification,
                           x.principal_fen AS owed_principal_fen, x.interest_fen AS owed_interest_fen,
                           x.penalty_fen AS owed_penalty_fen, x.fee_fen AS owed_fee_fen, x.cost_fen AS owed_cost_fen,
                           x.balance_fen, x.expected_recovery_fen
                    FROM exit_items x JOIN loans l ON l.id = x.loan_id JOIN borrowers b ON b.id = l.borrower_id
                    WHERE x.batch_kind = 'transfer' AND x.batch_id = :p ORDER BY l.loan_no""",
    "schedules.csv": """SELECT l.loan_no, i.seq, i.due_on, i.principal_due_fen, i.interest_due_fen, i.penalty_due_fen,
                               i.fee_due_fen, i.cost_due_fen, i.principal_paid_fen, i.interest_paid_fen,
                               i.penalty_paid_fen, i.fee_paid_fen, i.cost_paid_fen
                        FROM exit_items x JOIN loans l ON l.id = x.loan_id JOIN instalments i ON i.loan_id = l.id
                        WHERE x.batch_kind = 'transfer' AND x.batch_id = :p ORDER BY l.loan_no, i.seq""",
    "payments.csv": """SELECT l.loan_no, p.received_on, p.amount_fen, p.channel, p.status
                       FROM exit_items x JOIN loans l ON l.id = x.loan_id JOIN payments p ON p.loan_id = l.id
                       WHERE x.batch_kind = 'transfer' AND x.batch_id = :p ORDER BY l.loan_no, p.received_on, p.id""",
    "ledger.csv": """SELECT l.loan_no, e.business_date, e.kind, t.account, t.debit_fen, t.credit_fen
                     FROM exit_items x JOIN loans l ON l.id = x.loan_id JOIN journal_entries e ON e.loan_id = l.id
                     JOIN postings t ON t.entry_id = e.id
                     WHERE x.batch_kind = 'transfer' AND x.batch_id = :p ORDER BY l.loan_no, e.id, t.id""",
}


def export_package(session: Session, *, package_id: int, out_dir: Path, actor: str) -> Path:
    """Writes the package's files (CSV, set-based queries) and ``manifest.json`` listing each file with its
    SHA-256 and rows. Borrowers appear by borrower number only: identities go to the buyer under the
    transfer contract through a separate, access-controlled channel (个人信息保护法)."""
    package = _package(session, package_id)
    folder = Path(out_dir) / f"transfer-{package.code}"
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for name, sql in EXPORTS.items():
        table = fetch_arrow(session, sql, {"p": package.id})
        pacsv.write_csv(table, folder / name)
        files.append({"file": name, "rows": table.num_rows, "sha256": file_sha256(folder / name)})
    manifest = {"package": package.code, "status": package.status, "loans": package.loans,
                "balance_fen": package.balance_fen, "expected_recovery_fen": package.expected_recovery_fen,
                "documents": files}
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    append_event(session, actor=actor, action="transfer.package_exported", subject_type="transfer_package",
                 subject_id=package.id, after={"files": files})
    return folder


def sell_package(session: Session, *, package_id: int, buyer: str, price_fen: int, principal: Principal,
                 today: date, expected_version: int, cipher: PersonalDataCipher) -> TransferPackage:
    require(principal, Permission.transfer_manage)
    package = _package(session, package_id, expected_version)
    if package.status != "draft":
        raise Conflict(f"package {package.code} is already {package.status}", field="package_id",
                       rule="transfer.draft")
    if isinstance(price_fen, bool) or not isinstance(price_fen, int) or price_fen < 0:
        raise InvalidInput("must be integer fen ≥ 0", field="price_fen", rule="amount.non_negative")
    if not buyer or not buyer.strip() or len(buyer) > 200:
        raise InvalidInput("name the buyer (1–200 characters)", field="buyer", rule="transfer.buyer")
    ids = f"SELECT loan_id FROM exit_items WHERE batch_kind = 'transfer' AND batch_id = {int(package.id)}"
    under = loans_under_agreement(session)
    now = outstanding(session, f"l.id IN ({ids})")
    clash = sorted(set(now["loan_id"].to_pylist()) & under)
    if clash:  # an agreement signed after the package was built
        raise InvalidInput(f"loan {session.get(Loan, clash[0]).loan_no} is now under a valid repayment agreement",
                           field="package_id", rule=RULE_AGREEMENT)
    if now.num_rows != package.loans:
        raise Conflict(f"{package.loans - now.num_rows} loan(s) of package {package.code} were paid off or left "
                       "the book since it was built; build a new package", field="package_id",
                       rule="transfer.package_changed")
    priced = _split_price(now, price_fen)
    memo = f"transfer package {package.code}"
    post_entries(session, receivable_legs(priced, f"""
        SELECT loan_id, '{Account.cash_clearing.value}' AS account, price_fen AS debit_fen, 0 AS credit_fen FROM items
        UNION ALL SELECT loan_id, '{Account.transfer_loss.value}', greatest(balance_fen - price_fen, 0), 0 FROM items
        UNION ALL SELECT loan_id, '{Account.transfer_gain.value}', 0, greatest(price_fen - balance_fen, 0) FROM items"""),
                 kind=EntryKind.transfer, business_date=today, memo=memo)
    update_from_arrow(session, "exit_items", priced.select(["loan_id", "price_fen"]), key="loan_id",
                      where=f"AND exit_items.batch_kind = 'transfer' AND exit_items.batch_id = {int(package.id)}")
    leave_book(session, now, status="transferred", batch_id=package.id, today=today, actor=principal.actor,
               close_reason="transferred", special_kind="transfer", detail=f"{memo} to {buyer.strip()}"[:200],
               action="loan.transferred")
    for row in now.select(["loan_id", "borrower_id", "balance_fen"]).to_pylist():  # one notice per debtor
        borrower, loan = session.get(Borrower, row["borrower_id"]), session.get(Loan, row["loan_id"])
        queue_message(session, cipher=cipher, borrower_id=borrower.id, loan_id=loan.id, channel="sms",
                      template="debt_transfer_notice", dedupe_key=f"transfer:{package.id}:{loan.id}",
                      actor=principal.actor, profile="cn-bank",
                      variables={"borrower_name": cipher.decrypt(borrower.name_enc), "loan_no": loan.loan_no,
                                 "transferee": buyer.strip(), "transferred_on": today,
                                 "balance_fen": int(row["balance_fen"])})
    package.status, package.buyer, package.price_fen = "sold", buyer.strip(), price_fen
    package.sold_on, package.sold_by = today, principal.actor
    package.balance_fen = int(pc.sum(now["balance_fen"]).as_py())
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(f"package {package.code} was changed by someone else", field="expected_version",
                       rule="transfer.version") from None
    append_event(session, actor=principal.actor, action="transfer.package_sold", subject_type="transfer_package",
                 subject_id=package.id, after={"buyer": package.buyer, "price_fen": price_fen,
                                               "balance_fen": package.balance_fen, "sold_on": today})
    return package


def _split_price(items: pa.Table, price_fen: int) -> pa.Table:
    """Each loan's share of the price: floor(price × balance ÷ total); the fen left over go one each to the
    largest balances (ties by loan id), so the shares add up to the price exactly."""
    total = int(pc.sum(items["balance_fen"]).as_py())
    con = duckdb.connect()
    con.register("i", items)
    shares = con.sql(f"""
        WITH s AS (SELECT *, CAST(({int(price_fen)}::HUGEINT * balance_fen) // {total} AS BIGINT) AS base,
                          row_number() OVER (ORDER BY balance_fen DESC, loan_id) AS rank FROM i),
             left_over AS (SELECT {int(price_fen)} - sum(base) AS n FROM s)
        SELECT s.* EXCLUDE (base, rank), CAST(base + CASE WHEN rank <= (SELECT n FROM left_over) THEN 1 ELSE 0 END
                                              AS BIGINT) AS price_fen
        FROM s ORDER BY loan_id""").to_arrow_table()
    con.close()
    return shares

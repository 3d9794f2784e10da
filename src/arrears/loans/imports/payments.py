"""Importing payments: rows are checked set-based, then posted in value-date order by the bulk
payment poster (same waterfall, ledger and idempotency rules as the API), so an import can be re-run
safely: a row's idempotency key (given, or derived from the file's content and row) posts once."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pyarrow as pa
from sqlalchemy.orm import Session

from arrears.loans.imports import checks as chk
from arrears.loans.imports import lookup
from arrears.loans.imports.common import ImportReport, connect, good_rows, record_import, settle_errors
from arrears.loans.imports.files import ROW, read_table
from arrears.loans.bulk_payments import post_payments_bulk

PAYMENT_COLUMNS = ["loan_no", "amount", "received_on"]


def import_payments(session: Session, path: str | Path, *, actor: str, today: date, skip_invalid: bool = False,
                    rejects_path: Path | None = None) -> ImportReport:
    path = Path(path)
    table = read_table(path)
    chk.require_columns(table, PAYMENT_COLUMNS, path.name)
    for optional in ("idempotency_key", "channel", "external_ref"):
        if optional not in table.column_names:
            table = table.append_column(optional, pa.nulls(table.num_rows, pa.string()))
    con = connect(table)
    con.register("loans", lookup.ids_by_key(session, "loans", "loan_no", table.column("loan_no"),
                                            extra="disbursed_on"))
    con.execute(f"""CREATE VIEW src AS SELECT r.*, l.id AS loan_id, CAST(l.disbursed_on AS DATE) AS disbursed,
          {chk.yuan_fen_sql("amount")} AS amount_fen,
          TRY_CAST(trim(received_on) AS DATE) AS received
        FROM raw r LEFT JOIN loans l ON l.value = trim(r.loan_no)""")
    checks = [
        chk.required("loan_no"),
        chk.Check("loan_no", "loan.exists", "no such loan", "trim(coalesce(loan_no,'')) <> '' AND loan_id IS NULL"),
        chk.required("amount"), chk.pattern("amount", chk.YUAN, "must be yuan with at most two decimals"),
        chk.Check("amount", "amount.positive", "must be greater than zero", "amount_fen = 0"),
        *chk.date_checks("received_on", "received", not_after=today),
        chk.Check("received_on", "received_on.after_disbursement", "is before the loan was disbursed",
                  "received < disbursed"),
        chk.unique_in_file("idempotency_key"),
    ]
    bad, report = settle_errors("payments", path, table, chk.run_checks(con, checks), skip_invalid, rejects_path)
    file_digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    good = good_rows(con, "src", bad)
    keys = [(k or "").strip() or f"import:{file_digest}:{r}"
            for k, r in zip(good.column("idempotency_key").to_pylist(), good.column(ROW).to_pylist())]
    channels = [(c or "").strip() or "bank_transfer" for c in good.column("channel").to_pylist()]
    result = post_payments_bulk(session, pa.table({
        "loan_id": good.column("loan_id"), "amount_fen": good.column("amount_fen"),
        "received_on": good.column("received"), "idempotency_key": pa.array(keys, pa.string()),
        "channel": pa.array(channels, pa.string()), "external_ref": good.column("external_ref"),
    }))
    record_import(session, actor, "payments", path, report, {"posted": result.posted, "replayed": result.replayed})
    return report

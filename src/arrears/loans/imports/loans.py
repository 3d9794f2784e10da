"""Importing loans: terms are checked set-based, schedules generated columnar (or taken from a
schedules file), and the booking entries posted to the ledger by INSERT … SELECT."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
from sqlalchemy.orm import Session

from arrears.db.bulk import insert_arrow
from arrears.loans.imports import checks as chk
from arrears.loans.imports import lookup
from arrears.loans.imports.common import ImportReport, connect, good_rows, record_import, settle_errors
from arrears.loans.imports.files import ROW, read_table
from arrears.loans.imports.ledger import post_booking_entries
from arrears.loans.imports.schedules import attach_given_schedules
from arrears.loans.schedules_sql import generate_schedules
from arrears.products.catalog import Catalog, catalog

LOAN_COLUMNS = ["loan_no", "borrower_no", "product_code", "repayment_method", "principal", "annual_rate", "term",
                "disbursed_on", "first_due_on"]
MAX_PRINCIPAL_FEN = 100_000_000_000  # 10亿元: a sanity bound against unit mistakes, not a legal limit

# Parsed values, NULL where the text does not parse (the checks report those rows).
_PARSED = f"""
  {chk.yuan_fen_sql("principal")} AS principal_fen,
  CASE WHEN regexp_full_match(trim(annual_rate), '{chk.RATE}')
       THEN CAST(rtrim(trim(annual_rate), '%') AS DECIMAL(18,10))
            * CASE WHEN ends_with(trim(annual_rate), '%') THEN CAST('0.01' AS DECIMAL(3,2))
                   ELSE CAST('1' AS DECIMAL(3,2)) END END AS rate,
  CASE WHEN regexp_full_match(trim(term), '{chk.INT}') THEN CAST(trim(term) AS INTEGER) END AS term_n,
  TRY_CAST(trim(disbursed_on) AS DATE) AS disbursed,
  TRY_CAST(trim(first_due_on) AS DATE) AS first_due
"""


def _products_table(cat: Catalog) -> pa.Table:
    pairs = [(p.code, m.value, str(p.annual_rate_max)) for p in cat.products.values() for m in p.repayment_methods]
    return pa.table({"code": [p[0] for p in pairs], "method": [p[1] for p in pairs],
                     "rate_max": [p[2] for p in pairs]})


def import_loans(session: Session, path: str | Path, *, actor: str, today: date,
                 schedules_path: str | Path | None = None, skip_invalid: bool = False,
                 rejects_path: Path | None = None, cat: Catalog | None = None) -> ImportReport:
    path, cat = Path(path), cat or catalog()
    table = read_table(path)
    chk.require_columns(table, LOAN_COLUMNS, path.name)
    con = connect(table)
    con.register("existing", lookup.existing_values(session, "loans", "loan_no", table.column("loan_no")))
    con.register("borrowers", lookup.ids_by_key(session, "borrowers", "borrower_no", table.column("borrower_no")))
    con.register("allowed", _products_table(cat))
    con.execute(f"""CREATE VIEW parsed AS SELECT r.*, {_PARSED} FROM raw r""")
    given = None
    if schedules_path is not None:
        given = attach_given_schedules(con, Path(schedules_path), skip_invalid)
    else:
        con.execute("CREATE TABLE schedule_bad_loans (loan_no VARCHAR)")
    con.execute("""CREATE VIEW src AS SELECT p.*, e.value IS NOT NULL AS in_db, b.id AS borrower_id,
                     trim(p.loan_no) IN (SELECT loan_no FROM schedule_bad_loans) AS bad_schedule,
                     (SELECT count(*) FROM allowed a WHERE a.code = trim(p.product_code)) > 0 AS product_known,
                     a.method IS NOT NULL AS method_ok, CAST(a.rate_max AS DECIMAL(18,10)) AS rate_max
                   FROM parsed p
                   LEFT JOIN existing e ON e.value = trim(p.loan_no)
                   LEFT JOIN borrowers b ON b.value = trim(p.borrower_no)
                   LEFT JOIN allowed a ON a.code = trim(p.product_code) AND a.method = trim(p.repayment_method)""")
    errors = chk.run_checks(con, _loan_checks(today))
    bad, report = settle_errors("loans", path, table, errors, skip_invalid, rejects_path)
    good = good_rows(con, "src", bad)
    _write(session, good, given, cat)
    record_import(session, actor, "loans", path, report, {"schedules_file": str(schedules_path or "")})
    return report


def _loan_checks(today: date) -> list[chk.Check]:
    return [
        chk.required("loan_no"), chk.pattern("loan_no", chk.CODE, "may hold only letters, digits, _ and -"),
        chk.unique_in_file("loan_no"),
        chk.Check("loan_no", "loan_no.unique", "already exists", "in_db"),
        chk.required("borrower_no"),
        chk.Check("borrower_no", "borrower.exists", "no such borrower (import borrowers first)",
                  "trim(coalesce(borrower_no, '')) <> '' AND borrower_id IS NULL"),
        chk.required("product_code"),
        chk.Check("product_code", "product.known", "is not a product in the catalogue",
                  "trim(coalesce(product_code, '')) <> '' AND NOT product_known"),
        chk.required("repayment_method"),
        chk.Check("repayment_method", "repayment_method.allowed", "is not allowed for this product",
                  "product_known AND NOT method_ok"),
        chk.required("principal"), chk.pattern("principal", chk.YUAN, "must be yuan with at most two decimals"),
        chk.Check("principal", "principal.positive", "must be greater than zero", "principal_fen = 0"),
        chk.Check("principal", "principal.max", f"exceeds {MAX_PRINCIPAL_FEN // 100:,} yuan",
                  f"principal_fen > {MAX_PRINCIPAL_FEN}"),
        chk.required("annual_rate"), chk.pattern("annual_rate", chk.RATE, "must be a decimal like 0.0435 or 4.35%"),
        chk.Check("annual_rate", "annual_rate.max", "exceeds the product's maximum annual rate",
                  "rate IS NOT NULL AND rate_max IS NOT NULL AND rate > rate_max"),
        chk.required("term"), chk.pattern("term", chk.INT, "must be a whole number of periods"),
        chk.Check("term", "term.range", "must be between 1 and 360", "term_n IS NOT NULL AND (term_n < 1 OR term_n > 360)"),
        *chk.date_checks("disbursed_on", "disbursed", not_after=today),
        *chk.date_checks("first_due_on", "first_due"),
        chk.Check("first_due_on", "dates.order", "must be after disbursed_on", "first_due <= disbursed"),
        chk.Check("loan_no", "schedule.valid", "its schedule in the schedules file is invalid", "bad_schedule"),
    ]


def _write(session: Session, good: pa.Table, given: pa.Table | None, cat: Catalog) -> None:
    if good.num_rows == 0:
        return
    n = good.num_rows
    rows = pa.table({
        "loan_no": pa.array([v.strip() for v in good.column("loan_no").to_pylist()], pa.string()),
        "borrower_id": good.column("borrower_id"),
        "product_code": pa.array([v.strip() for v in good.column("product_code").to_pylist()], pa.string()),
        "repayment_method": pa.array([v.strip() for v in good.column("repayment_method").to_pylist()]),
        "principal_fen": good.column("principal_fen"),
        "annual_rate": pa.array([format(v.normalize(), "f") for v in good.column("rate").to_pylist()]),
        "term": good.column("term_n"),
        "disbursed_on": good.column("disbursed"),
        "first_due_on": good.column("first_due"),
        "status": pa.array(["active"] * n), "credit_fen": pa.array([0] * n, pa.int64()),
        "restructured": pa.array([False] * n), "version": pa.array([1] * n, pa.int32()),
        "created_at": lookup.timestamp_column(session, n),
    })
    insert_arrow(session, "loans", rows)
    ids = lookup.ids_by_key(session, "loans", "loan_no", rows.column("loan_no"), extra="borrower_id")
    con = connect(rows)
    con.register("ids", ids)
    keyed = con.sql("""SELECT i.id AS loan_key, i.borrower_id, r.loan_no, r.product_code,
                         r.repayment_method AS method, r.principal_fen, r.annual_rate, CAST(r.term AS INTEGER) AS term,
                         r.disbursed_on, r.first_due_on
                       FROM raw r JOIN ids i ON i.value = r.loan_no ORDER BY i.id""").to_arrow_table()
    instalments = _schedules(con, keyed, given, cat)
    insert_arrow(session, "instalments", instalments)
    post_booking_entries(session, keyed.column("loan_key"), memo="import")


def _schedules(con, keyed: pa.Table, given: pa.Table | None, cat: Catalog) -> pa.Table:  # noqa: ANN001
    """Given schedules where the file had them, generated ones for the rest; as instalment rows."""
    con.register("keyed", keyed)
    if given is not None:
        con.register("given", given)
        generate_for = con.sql("SELECT * FROM keyed WHERE loan_no NOT IN (SELECT loan_no FROM given)"
                               ).to_arrow_table()
    else:
        generate_for = keyed
    generated = generate_schedules(generate_for.select(
        ["loan_key", "product_code", "method", "principal_fen", "annual_rate", "term", "disbursed_on",
         "first_due_on"]), cat)
    con.register("generated", generated)
    union = "SELECT loan_key, seq, due_on, principal_fen, interest_fen, fee_fen FROM generated"
    if given is not None:
        union += (" UNION ALL SELECT k.loan_key, g.seq, g.due_on, g.principal_fen, g.interest_fen, g.fee_fen"
                  " FROM given g JOIN keyed k ON k.loan_no = g.loan_no")
    return con.sql(f"""SELECT s.loan_key AS loan_id, k.borrower_id, CAST(s.seq AS INTEGER) AS seq, s.due_on,
                         s.principal_fen AS principal_due_fen, s.interest_fen AS interest_due_fen,
                         s.fee_fen AS fee_due_fen
                       FROM ({union}) s JOIN keyed k ON k.loan_key = s.loan_key
                       ORDER BY s.loan_key, s.seq""").to_arrow_table()


__all__ = ["import_loans", "LOAN_COLUMNS", "ROW"]

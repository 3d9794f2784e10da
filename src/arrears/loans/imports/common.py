"""What every import shares: the report, rejecting or setting aside bad rows, the audit event."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.orm import Session

from arrears.audit.service import append_event
from arrears.db.base import utcnow
from arrears.errors import InvalidInput
from arrears.loans.imports.files import ROW

MAX_ERRORS_IN_MESSAGE = 20


@dataclass
class ImportReport:
    kind: str
    file: str
    rows: int
    imported: int
    rejected: int
    errors: list[dict] = field(default_factory=list)  # {row, column, rule, message}
    rejects_path: str | None = None


class ImportRejected(InvalidInput):
    """The file had bad rows and nothing was imported."""


def connect(table: pa.Table) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.register("raw", table)
    return con


def settle_errors(kind: str, path: Path, table: pa.Table, errors: pa.Table, skip_invalid: bool,
                  rejects_path: Path | None) -> tuple[set[int], ImportReport]:
    """Rejects the file when it has bad rows, or (skip_invalid) sets them aside in a rejects file."""
    listed = [{"row": e[ROW], "column": e["column"], "rule": e["rule"], "message": e["message"]}
              for e in errors.to_pylist()]
    bad = {e["row"] for e in listed}
    if bad and not skip_invalid:
        shown = "; ".join(f"row {e['row']} {e['column']}: {e['message']}" for e in listed[:MAX_ERRORS_IN_MESSAGE])
        more = f" (and {len(listed) - MAX_ERRORS_IN_MESSAGE} more)" if len(listed) > MAX_ERRORS_IN_MESSAGE else ""
        raise ImportRejected(f"{path.name}: {len(bad)} bad row(s), nothing imported: {shown}{more}",
                             field="file", rule="import.rows_valid", errors=listed)
    report = ImportReport(kind, str(path), table.num_rows, table.num_rows - len(bad), len(bad), listed)
    if bad:
        target = rejects_path or path.with_name(path.stem + ".rejects.csv")
        write_rejects(target, table, listed)
        report.rejects_path = str(target)
    return bad, report


def write_rejects(target: Path, table: pa.Table, errors: list[dict]) -> None:
    """The bad rows as they were in the file, with their row numbers and every error found."""
    by_row: dict[int, list[str]] = {}
    for e in errors:
        by_row.setdefault(e["row"], []).append(f"{e['column']}: {e['message']} [{e['rule']}]")
    names = [n for n in table.column_names if n != ROW]
    bad_rows = table.filter(pc.is_in(table.column(ROW), pa.array(sorted(by_row), pa.int64())))
    with target.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["row", *names, "errors"])
        for record in bad_rows.to_pylist():
            writer.writerow([record[ROW], *(record[n] for n in names), "; ".join(by_row[record[ROW]])])


def good_rows(con: duckdb.DuckDBPyConnection, view: str, bad: set[int]) -> pa.Table:
    con.register("bad_rows", pa.table({ROW: pa.array(sorted(bad), pa.int64())}))
    return con.sql(f"SELECT * FROM {view} WHERE {ROW} NOT IN (SELECT {ROW} FROM bad_rows) ORDER BY {ROW}"
                   ).to_arrow_table()


def record_import(session: Session, actor: str, kind: str, path: Path, report: ImportReport,
                  extra: dict | None = None) -> None:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    append_event(session, actor=actor, action=f"import.{kind}", subject_type="import",
                 subject_id=f"{kind}:{digest[:16]}:{utcnow().isoformat()}",
                 after={"file": path.name, "sha256": digest, "rows": report.rows, "imported": report.imported,
                        "rejected": report.rejected, **(extra or {})})

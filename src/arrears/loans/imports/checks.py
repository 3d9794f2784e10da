"""Row checks for imports, run as set-based SQL in DuckDB over the whole file at once.

A check names the column, the rule and a message, and holds the SQL condition that is true for a
bad row. All checks run over every row, so a file's report lists every problem, not the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import pyarrow as pa

from arrears.errors import InvalidInput
from arrears.loans.imports.files import ROW


@dataclass(frozen=True)
class Check:
    column: str
    rule: str
    message: str
    bad_when: str  # SQL over the table `src`; true when the row breaks the rule


YUAN = r"^[0-9]{1,3}(,[0-9]{3})*(\.[0-9]{1,2})?$|^[0-9]+(\.[0-9]{1,2})?$"
RATE = r"^[0-9]+(\.[0-9]{1,10})?%?$"
DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
INT = r"^[0-9]{1,6}$"
CODE = r"^[A-Za-z0-9_\-]{1,40}$"

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number_checksum_sql(col: str) -> str:
    """GB 11643 check digit of an 18-character resident ID number, as SQL."""
    terms = " + ".join(f"CAST(substr({col}, {i + 1}, 1) AS INTEGER) * {w}" for i, w in enumerate(_ID_WEIGHTS))
    return f"substr('10X98765432', (({terms}) % 11) + 1, 1)"


def required(column: str) -> Check:
    return Check(column, f"{column}.required", "is required", f"trim(coalesce({column}, '')) = ''")


def pattern(column: str, regex: str, message: str, rule: str | None = None) -> Check:
    return Check(column, rule or f"{column}.format", message,
                 f"trim(coalesce({column}, '')) <> '' AND NOT regexp_full_match(trim({column}), '{regex}')")


def unique_in_file(column: str) -> Check:
    return Check(column, f"{column}.unique", "appears more than once in the file",
                 f"{column} IS NOT NULL AND count(*) OVER (PARTITION BY trim({column})) > 1")


def yuan_fen_sql(column: str) -> str:
    """SQL parsing a yuan text column into integer fen (exact, via DECIMAL); NULL when it does not parse."""
    return (f"CASE WHEN regexp_full_match(trim({column}), '{YUAN}') THEN "
            f"CAST(CAST(replace(trim({column}), ',', '') AS DECIMAL(18,2)) * 100 AS BIGINT) END")


def date_checks(column: str, parsed: str, *, not_after: date | None = None) -> list[Check]:
    """A required date column: present, a date, and (optionally) not after a given day."""
    checks = [required(column),
              Check(column, "date.format", "must be a date YYYY-MM-DD",
                    f"trim(coalesce({column}, '')) <> '' AND {parsed} IS NULL")]
    if not_after is not None:
        checks.append(Check(column, f"{column}.not_future", f"is after the business date {not_after.isoformat()}",
                            f"{parsed} > DATE '{not_after.isoformat()}'"))
    return checks


def require_columns(table: pa.Table, needed: list[str], name: str) -> None:
    missing = [c for c in needed if c not in table.column_names]
    if missing:
        raise InvalidInput(f"{name}: missing column(s) {', '.join(missing)}; the file has "
                           f"{', '.join(c for c in table.column_names if c != ROW)}",
                           field="header", rule="header.columns")


def run_checks(con: duckdb.DuckDBPyConnection, checks: list[Check], view: str = "src") -> pa.Table:
    """Errors as an Arrow table (_row, column, rule, message), sorted by row, over ``view``."""
    if not checks:
        return pa.table({ROW: pa.array([], pa.int64()), "column": pa.array([], pa.string()),
                         "rule": pa.array([], pa.string()), "message": pa.array([], pa.string())})
    # Window checks cannot sit in WHERE; evaluate every condition as a column first.
    flags = ", ".join(f"({c.bad_when}) AS c{i}" for i, c in enumerate(checks))
    unions = " UNION ALL ".join(
        f"SELECT {ROW}, '{c.column}' AS \"column\", '{c.rule}' AS rule, '{c.message.replace(chr(39), chr(39) * 2)}'"
        f" AS message FROM flagged WHERE c{i}" for i, c in enumerate(checks))
    sql = f"WITH flagged AS (SELECT {ROW}, {flags} FROM {view}) {unions} ORDER BY {ROW}, \"column\""
    return con.sql(sql).to_arrow_table()

"""A synthetic portfolio for the end-of-day benchmark, generated set-based in DuckDB (no Python loop
over loans): N loans across the products, 6–24 monthly instalments (about 13 on average), payment
histories where about 80 % pay on time, about 8 % pay late or in part (penalty history), and about 12 %
stopped paying some months ago (overdue, penalties accruing). Deterministic for a given N and date."""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa

from arrears.delinquency.model import INSTALMENTS, LOANS, SETTLEMENTS, EngineInputs, conform
from arrears.delinquency.due_dates import build_due_dates
from arrears.calendar import default_calendar

_PRODUCTS = "['consumer_loan', 'inclusive_loan', 'internet_loan', 'micro_business_loan', 'credit_card']"
_RATES = "['0.0435', '0.0580', '0.0720', '0.0365', '0.1825']"


def generate(con: duckdb.DuckDBPyConnection, n: int, business_date: date, first: int = 1) -> None:
    """Creates tables bench_loans, bench_instalments, bench_settlements on ``con`` for loans
    ``first`` .. ``first + n - 1`` (a large portfolio is generated and run range by range)."""
    d = business_date.isoformat()
    con.execute(f"""
        CREATE OR REPLACE TABLE bench_loans AS
        SELECT i::BIGINT AS loan_id, (i // 2)::BIGINT AS borrower_id,
               {_PRODUCTS}[1 + (hash(i) % 5)::INT] AS product_code,
               {_RATES}[1 + (hash(i) % 5)::INT] AS annual_rate,
               (1000 + hash(i * 7) % 200000) * 100 AS principal_fen,
               6 + (hash(i * 11) % 19)::INT AS term,
               CAST(DATE '{d}' - INTERVAL 30 DAY * (2 + (hash(i * 13) % 16)::INT)
                    - INTERVAL 1 DAY * (hash(i * 17) % 28)::INT AS DATE) AS disbursed_on,
               (hash(i * 19) % 100)::INT AS behaviour  -- < 80 on time, < 88 late/partial, else stopped
        FROM range({first}, {first} + {n}) t(i)""")
    con.execute("""
        CREATE OR REPLACE TABLE bench_instalments AS
        SELECT l.loan_id, s.seq::INT AS seq,
               CAST(l.disbursed_on + INTERVAL 1 MONTH * s.seq AS DATE) AS due_on,
               CASE WHEN s.seq = l.term THEN l.principal_fen - (l.principal_fen // l.term) * (l.term - 1)
                    ELSE l.principal_fen // l.term END AS principal_due_fen,
               ((l.principal_fen - (l.principal_fen // l.term) * (s.seq - 1)) * 5 // 1000)::BIGINT AS interest_due_fen,
               0::BIGINT AS fee_due_fen, 0::BIGINT AS cost_due_fen
        FROM bench_loans l, range(1, l.term + 1) s(seq)""")
    con.execute(f"""
        CREATE OR REPLACE TABLE bench_settlements AS
        WITH due AS (
            SELECT i.*, l.behaviour, (hash(l.loan_id * 23) % 6)::INT AS stop_after
            FROM bench_instalments i JOIN bench_loans l USING (loan_id) WHERE i.due_on <= DATE '{d}'),
        paid AS (
            SELECT *, CASE WHEN behaviour < 80 THEN CAST(due_on - INTERVAL 1 DAY AS DATE)
                           WHEN behaviour < 88 THEN CAST(due_on + INTERVAL 1 DAY * (5 + hash(loan_id + seq) % 40) AS DATE)
                           ELSE CAST(due_on - INTERVAL 1 DAY AS DATE) END AS paid_on,
                      CASE WHEN behaviour >= 80 AND behaviour < 88 AND seq % 3 = 0 THEN 2 ELSE 1 END AS part
            FROM due
            WHERE behaviour < 88 OR seq <= stop_after)
        SELECT loan_id, seq, 'interest' AS component, interest_due_fen AS amount_fen, paid_on AS value_date
        FROM paid WHERE paid_on <= DATE '{d}'
        UNION ALL
        SELECT loan_id, seq, 'principal', principal_due_fen // part, paid_on FROM paid WHERE paid_on <= DATE '{d}'""")
    settle(con, business_date)


def settle(con: duckdb.DuckDBPyConnection, business_date: date) -> None:
    """The engine's view of bench_settlements on ``business_date`` (docs/eod.md, Inputs): the instalments'
    settled totals (bench_instalments) and the settlements seen one by one (bench_one_by_one)."""
    d = business_date.isoformat()
    sums = ", ".join(f"coalesce(sum(CASE WHEN s.component = '{c}' THEN s.amount_fen END), 0)::BIGINT "
                     f"AS {c}_settled_fen" for c in ("principal", "interest", "fee", "cost", "penalty"))
    con.execute(f"""
        CREATE OR REPLACE TABLE bench_instalments AS
        SELECT i.loan_id, i.seq, i.due_on, i.principal_due_fen, i.interest_due_fen, i.fee_due_fen, i.cost_due_fen,
               {sums}
        FROM bench_instalments i
        LEFT JOIN bench_settlements s ON s.loan_id = i.loan_id AND s.seq = i.seq AND s.value_date <= DATE '{d}'
        GROUP BY ALL ORDER BY i.loan_id, i.seq""")
    con.execute("""
        CREATE OR REPLACE TABLE bench_one_by_one AS
        SELECT s.loan_id, s.seq, i.due_on, s.component, s.amount_fen, s.value_date
        FROM bench_settlements s JOIN bench_instalments i USING (loan_id, seq)
        WHERE s.value_date > i.due_on ORDER BY s.loan_id, s.seq, s.value_date""")


def next_day_payments(con: duckdb.DuckDBPyConnection, next_date: date) -> None:
    """Payments arriving on ``next_date`` for 1 % of the loans (the interest of their first instalment still
    owing it) — what an incremental run must pick up. Call ``settle`` for ``next_date`` afterwards."""
    con.execute(f"""
        INSERT INTO bench_settlements
        SELECT loan_id, seq, 'interest', interest_due_fen - interest_settled_fen, DATE '{next_date.isoformat()}'
        FROM (SELECT *, row_number() OVER (PARTITION BY loan_id ORDER BY seq) AS k FROM bench_instalments
              WHERE loan_id % 100 = 7 AND interest_settled_fen < interest_due_fen) t
        WHERE k = 1""")


def changed_on(con: duckdb.DuckDBPyConnection, day: date) -> pa.Array:
    """The loans a payment reached on ``day``."""
    return con.sql(f"SELECT DISTINCT loan_id FROM bench_settlements WHERE value_date = DATE '{day.isoformat()}'"
                   ).to_arrow_table().column("loan_id").combine_chunks()


def as_inputs(con: duckdb.DuckDBPyConnection, business_date: date, where: str = "") -> EngineInputs:
    """The generated tables as engine inputs (optionally for a subset of loans, e.g. a sample)."""
    filt = f"WHERE {where}" if where else ""
    loans = con.sql(f"SELECT loan_id, borrower_id, product_code, annual_rate, principal_fen, disbursed_on, "
                    f"NULL::DATE AS restructured_on FROM bench_loans {filt} ORDER BY loan_id").to_arrow_table()
    instalments = con.sql(f"SELECT * FROM bench_instalments {filt} ORDER BY loan_id, seq").to_arrow_table()
    settlements = con.sql(f"SELECT * FROM bench_one_by_one {filt} ORDER BY loan_id, seq, value_date"
                          ).to_arrow_table()
    due = con.sql("SELECT DISTINCT due_on FROM bench_instalments").to_arrow_table().column("due_on").to_pylist()
    return EngineInputs(conform(loans, LOANS), conform(instalments, INSTALMENTS), conform(settlements, SETTLEMENTS),
                        build_due_dates(due, business_date, default_calendar()), EngineInputs.empty_previous())


def describe(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    row = con.sql("SELECT (SELECT count(*) FROM bench_loans), (SELECT count(*) FROM bench_instalments), "
                  "(SELECT count(*) FROM bench_settlements), (SELECT count(*) FROM bench_one_by_one)").fetchall()[0]
    return {"loans": row[0], "instalments": row[1], "settlements": row[2], "settlements_one_by_one": row[3]}


__all__ = ["generate", "as_inputs", "describe", "pa"]

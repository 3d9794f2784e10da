"""Repayment schedules for a whole portfolio at once, columnar in DuckDB (bulk import of 100,000+ loans).

Produces exactly what ``schedules.generate_schedule`` produces for each loan (the reference is the test
oracle). Every rounded figure there is an integer ratio rounded once; here the same ratios are taken in
HUGEINT arithmetic, never DECIMAL or DOUBLE (DuckDB's decimal division and pow go through DOUBLE). The
only real-number step, the 等额本息 annuity factor, is computed in Python per distinct (rate, term) with the
reference's own function and joined in as an exact integer ratio. Periods are iterated by a recursive CTE,
so there is no Python loop over loans.

Inputs are assumed valid (the importer checks rows first); an unknown product or a method the product
does not offer is refused. Rates may have at most 18 decimals and principals stay below 10^13 fen so that
the products fit HUGEINT.
"""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pyarrow as pa

from arrears.errors import InvalidInput
from arrears.loans.schedules import INTEREST_DIVISOR, annuity_factor, decimal_ratio
from arrears.money import MoneyError, rate
from arrears.products.catalog import Catalog, PolicyError
from arrears.products.model import RepaymentMethod

OUTPUT_SCHEMA = pa.schema([
    ("loan_key", pa.int64()), ("seq", pa.int32()), ("due_on", pa.date32()),
    ("principal_fen", pa.int64()), ("interest_fen", pa.int64()), ("fee_fen", pa.int64()),
])
MODE_CODES = {"half_up": 0, "half_even": 1, "down": 2, "up": 3}  # rounding mode → code in SQL
_MODE_CODES = MODE_CODES
_METHOD_CODES = {m.value: i for i, m in enumerate(RepaymentMethod)}
_MAX_RATE_DENOMINATOR = 10**18  # keeps numerator and denominator in int64


def round_ratio_sql(a: str, b: str, mode: str) -> str:
    """SQL for ``a / b`` rounded once to an integer under the rounding-mode code ``mode`` (``_MODE_CODES``: the
    modes of arrears.money.round_fen), for integer expressions a >= 0 and b > 0. Integer arithmetic only
    (``//`` and ``%`` on BIGINT/HUGEINT; sqlglot writes ``//`` as Spark's ``div``), so no DOUBLE ever appears.
    ``a`` and ``b`` are repeated in the text: pass column names, not long expressions."""
    return (f"CASE {mode} WHEN 0 THEN (2 * {a} + {b}) // (2 * {b}) "
            f"WHEN 1 THEN {a} // {b} + CASE WHEN 2 * ({a} % {b}) > {b} "
            f"OR (2 * ({a} % {b}) = {b} AND ({a} // {b}) % 2 = 1) THEN 1 ELSE 0 END "
            f"WHEN 2 THEN {a} // {b} ELSE ({a} + {b} - 1) // {b} END")


# round_ratio(a, b, mode) for a >= 0, b > 0, the same modes as arrears.money.round_fen (codes in _MODE_CODES).
# The other macros take ``l``, the loan's row of the ``loan`` table as a struct, to keep call sites short.
_MACROS = f"""
CREATE OR REPLACE TEMP MACRO round_ratio(a, b, mode) AS {round_ratio_sql("a", "b", "mode")};
""" + """
-- interest of a period: remaining·rate·periods / divisor (periods = days, months, or 1 month)
CREATE OR REPLACE TEMP MACRO period_interest(remaining, periods, l) AS
    round_ratio(remaining * l.rate_num * periods, l.rate_den * l.divisor, l.mode);
CREATE OR REPLACE TEMP MACRO periods_between(start_on, end_on, l) AS CASE
    WHEN l.daily THEN date_diff('day', start_on, end_on)
    WHEN l.method = {bullet} THEN l.term ELSE 1 END;
-- principal of instalment seq given the balance before it and its interest (schedules._principal_rule)
CREATE OR REPLACE TEMP MACRO period_principal(seq, remaining, interest, l) AS CASE
    WHEN seq = l.last_seq THEN remaining
    WHEN l.method = {equal_instalment} THEN least(greatest(l.level_fen - interest, 0), remaining)
    WHEN l.method = {equal_principal} THEN least(l.level_fen, remaining)
    WHEN l.method = {card_statement} THEN
        least(remaining, greatest(round_ratio(remaining * l.share_num, l.share_den, l.mode), l.floor_fen))
    ELSE 0 END;
""".format(**_METHOD_CODES)

# One row per loan with everything the periods need, as HUGEINT where products are taken.
_PREPARE = """
CREATE TEMP TABLE loan AS
SELECT l.loan_key, m.code AS method, CAST(l.principal_fen AS HUGEINT) AS principal, l.term,
       l.disbursed_on, l.first_due_on,
       CASE WHEN m.code = {bullet} THEN 1 ELSE l.term END AS last_seq,
       p.mode, p.daily, CAST(p.divisor AS HUGEINT) AS divisor,
       CAST(p.share_num AS HUGEINT) AS share_num, CAST(p.share_den AS HUGEINT) AS share_den,
       CAST(p.floor_fen AS HUGEINT) AS floor_fen,
       CAST(r.rate_num AS HUGEINT) AS rate_num, CAST(r.rate_den AS HUGEINT) AS rate_den,
       CASE m.code
           WHEN {equal_instalment} THEN round_ratio(CAST(l.principal_fen AS HUGEINT) * CAST(f.factor_num AS HUGEINT),
                                                   CAST(f.factor_den AS HUGEINT), p.mode)
           WHEN {equal_principal} THEN round_ratio(CAST(l.principal_fen AS HUGEINT), CAST(l.term AS HUGEINT), p.mode)
       END AS level_fen
FROM loans l
JOIN methods m ON m.method = l.method
JOIN products p ON p.product_code = l.product_code
JOIN rates r ON r.annual_rate = l.annual_rate
LEFT JOIN factors f ON f.annual_rate = l.annual_rate AND f.term = l.term AND m.code = {equal_instalment}
""".format(**_METHOD_CODES)

# Row k holds instalment k: its balance before, interest and principal. The next row's balance is this
# balance less this principal; a card stops once its balance is repaid.
_PERIODS = """
WITH RECURSIVE period(loan_key, seq, due_on, remaining, interest, principal) AS (
    SELECT loan_key, 1, first_due_on, principal,
           period_interest(principal, periods_between(disbursed_on, first_due_on, l), l) AS first_interest,
           period_principal(1, principal, first_interest, l)
    FROM loan l
    UNION ALL
    SELECT loan_key, next_seq, next_due_on, next_remaining,
           period_interest(next_remaining, periods_between(due_on, next_due_on, l), l) AS next_interest,
           period_principal(next_seq, next_remaining, next_interest, l)
    FROM (
        SELECT p.loan_key, p.seq + 1 AS next_seq, p.due_on,
               CAST(l.first_due_on + to_months(p.seq) AS DATE) AS next_due_on,
               p.remaining - p.principal AS next_remaining, l
        FROM period p JOIN loan l ON l.loan_key = p.loan_key
        WHERE p.seq < l.last_seq AND NOT (l.method = {card_statement} AND p.remaining = p.principal)
    )
)
SELECT loan_key, CAST(seq AS INTEGER) AS seq, due_on, CAST(principal AS BIGINT) AS principal_fen,
       CAST(interest AS BIGINT) AS interest_fen, CAST(0 AS BIGINT) AS fee_fen
FROM period ORDER BY loan_key, seq
""".format(**_METHOD_CODES)


def generate_schedules(loans: pa.Table, catalog: Catalog) -> pa.Table:
    """Schedules of all ``loans`` (see module docstring for the input columns), ordered by loan_key, seq."""
    if loans.num_rows == 0:
        return OUTPUT_SCHEMA.empty_table()
    con = duckdb.connect()
    try:
        con.register("loans", loans)
        _require_unique_keys(con)
        con.register("products", _product_table(con, catalog))
        con.register("methods", pa.table({"method": list(_METHOD_CODES), "code": list(_METHOD_CODES.values())}))
        con.register("rates", _rate_table(con))
        con.register("factors", _factor_table(con))
        con.sql(_MACROS)
        con.sql(_PREPARE)
        return con.sql(_PERIODS).to_arrow_table().cast(OUTPUT_SCHEMA)
    finally:
        con.close()


def _require_unique_keys(con: duckdb.DuckDBPyConnection) -> None:
    (rows, keys), = con.sql("SELECT count(*), count(DISTINCT loan_key) FROM loans").fetchall()
    if rows != keys:
        raise InvalidInput(detail=f"{rows - keys} rows repeat a loan_key; each loan needs its own key",
                           field="loan_key", rule="unique_loan_key")


def _product_table(con: duckdb.DuckDBPyConnection, catalog: Catalog) -> pa.Table:
    """Per product in the portfolio: rounding, basis and card terms; refuses unknown products and methods."""
    pairs = con.sql("SELECT DISTINCT product_code, method FROM loans ORDER BY ALL").fetchall()
    rows: dict[str, dict] = {}
    for code, method in pairs:
        try:
            product = catalog.product(code)
        except PolicyError as exc:
            raise InvalidInput(detail=str(exc), field="product_code", rule="known_product") from None
        if method not in product.repayment_methods:
            allowed = ", ".join(m.value for m in product.repayment_methods)
            raise InvalidInput(detail=f"product {code} does not offer {method}; it offers {allowed}",
                               field="method", rule="method_allowed_by_product")
        share_num, share_den = decimal_ratio(product.card.min_payment_share) if product.card else (0, 1)
        rows[code] = {
            "product_code": code, "mode": _MODE_CODES[product.rounding],
            "daily": product.interest_basis != "monthly_30_360",
            "divisor": INTEREST_DIVISOR[product.interest_basis],
            "share_num": share_num, "share_den": share_den,
            "floor_fen": product.card.min_payment_floor_fen if product.card else 0,
        }
    return pa.Table.from_pylist(list(rows.values()), schema=pa.schema([
        ("product_code", pa.string()), ("mode", pa.int8()), ("daily", pa.bool_()), ("divisor", pa.int64()),
        ("share_num", pa.int64()), ("share_den", pa.int64()), ("floor_fen", pa.int64()),
    ]))


def _parse_rate(text: str) -> Decimal:
    try:
        value = rate(text)
        if not value.is_finite():
            raise MoneyError("rate must be finite")
    except MoneyError as exc:
        raise InvalidInput(detail=str(exc), field="annual_rate", rule="decimal_rate") from None
    return value


def _rate_table(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Each distinct rate text as an exact ratio (numerator, power-of-ten denominator)."""
    texts = [t for (t,) in con.sql("SELECT DISTINCT annual_rate FROM loans").fetchall()]
    nums, dens = [], []
    for text in texts:
        num, den = decimal_ratio(_parse_rate(text))
        if den > _MAX_RATE_DENOMINATOR:
            raise InvalidInput(detail=f"annual rate {text} has more than 18 decimals",
                               field="annual_rate", rule="rate_decimals")
        nums.append(num)
        dens.append(den)
    return pa.table({"annual_rate": pa.array(texts, pa.string()),
                     "rate_num": pa.array(nums, pa.int64()), "rate_den": pa.array(dens, pa.int64())})


def _factor_table(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Annuity factor per distinct (rate, term) of the 等额本息 loans, as integer text (it exceeds int64)."""
    pairs = con.sql("SELECT DISTINCT annual_rate, term FROM loans WHERE method = 'equal_instalment'").fetchall()
    factors = [annuity_factor(_parse_rate(text), term) for text, term in pairs]
    return pa.table({
        "annual_rate": pa.array([text for text, _ in pairs], pa.string()),
        "term": pa.array([term for _, term in pairs], pa.int32()),
        "factor_num": pa.array([str(num) for num, _ in factors], pa.string()),
        "factor_den": pa.array([str(den) for _, den in factors], pa.string()),
    })

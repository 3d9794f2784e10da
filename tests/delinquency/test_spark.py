"""The Spark path (the same SQL, transpiled by sqlglot) equals the DuckDB engine row for row.

pyspark comes with the ``test`` extra; the test runs (it is never skipped) and needs Java 17."""

from __future__ import annotations

from datetime import date

import pytest
from portfolios import generate_portfolio

from arrears.delinquency import engine, sql
from arrears.delinquency.spark import run_spark, spark_session, to_spark, write_inputs
from arrears.products.catalog import catalog


@pytest.fixture(scope="module")
def spark():
    session = spark_session()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def test_spark_equals_duckdb(spark, tmp_path):
    p = generate_portfolio(20_260_331, 120, broken=8, previous="reference")
    write_inputs(p.inputs, tmp_path / "in", p.catalog)
    theirs = run_spark(tmp_path / "in", p.business_date, p.catalog, tmp_path / "out", spark=spark)
    ours = engine.run(p.inputs, p.business_date, p.catalog)
    assert ours.snapshot.num_rows > 50 and ours.penalties.num_rows > 0 and ours.transitions.num_rows > 0
    assert ours.rejected.num_rows == 8
    for name in ("snapshot", "penalties", "transitions", "rejected"):
        assert getattr(theirs, name).equals(getattr(ours, name)), name
    assert sorted(f.name for f in (tmp_path / "out").iterdir()) == ["penalties", "rejected", "snapshot",
                                                                    "transitions"]


def test_the_sql_is_integer_only_on_both_engines():
    cat = catalog()
    statements = [s.sql for s in sql.steps(date(2026, 1, 31), cat.restructuring, 400)] + list(sql.OUTPUTS.values())
    spark_sql = [to_spark(text) for text in statements]
    for text in statements + spark_sql:
        assert not any(word in text.upper() for word in ("DOUBLE", "FLOAT", "REAL", " / ")), text
    assert not any("INT128" in text for text in spark_sql)
    assert any("DECIMAL(38, 0)" in text and " DIV " in text for text in spark_sql)  # HUGEINT and // on Spark

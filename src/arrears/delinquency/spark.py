"""The same end-of-day computation on Spark: the statements of ``arrears.delinquency.sql``, written once in
DuckDB's dialect, transpiled by sqlglot to Spark SQL and run on a SparkSession.

The one change sqlglot does not make by itself: DuckDB's HUGEINT (exact 128-bit integers) becomes Spark's
DECIMAL(38, 0); ``//`` becomes ``div`` (an exact integer quotient, returned as BIGINT: every quotient the SQL
takes is an amount of fen) and ``%`` stays exact on decimals. Inputs are Parquet files (``write_inputs``)
plus ``catalogue.json`` with the small catalogue tables; outputs are written as Parquet to ``output_dir``
and returned as EngineOutputs with the model's schemas.

pyspark is an optional dependency (``pip install arrears[spark]``); Java 17 must be on the machine.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

from arrears.delinquency import engine, sql
from arrears.delinquency.model import EngineInputs, EngineOutputs
from arrears.delinquency.sql import catalogue
from arrears.products.catalog import Catalog

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

INPUT_FILES = {"eod_loans": "loans", "eod_instalments": "instalments", "eod_settlements": "settlements",
               "eod_due_dates": "due_dates", "eod_previous": "previous"}
CATALOGUE_FILE = "catalogue.json"
CATALOGUE_SCHEMAS = {"eod_params": catalogue.PARAMS, "eod_grades": catalogue.GRADES, "eod_levels": catalogue.LEVELS,
                     "eod_names": catalogue.NAMES}


def _hugeint_as_decimal(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.INT128:
        return exp.DataType.build("DECIMAL(38, 0)")
    return node


def to_spark(query: str) -> str:
    """One statement from DuckDB's dialect to Spark SQL."""
    return sqlglot.parse_one(query, read="duckdb").transform(_hugeint_as_decimal).sql(dialect="spark")


def write_inputs(inputs: EngineInputs, directory: Path, catalog: Catalog) -> None:
    """The engine's inputs as Parquet files (loans, instalments, settlements, due_dates, previous) and the
    catalogue tables for the portfolio's (product, rate) pairs as ``catalogue.json``."""
    directory.mkdir(parents=True, exist_ok=True)
    tables = engine.input_tables(inputs)
    for name, table in tables.items():
        pq.write_table(table, directory / f"{INPUT_FILES[name]}.parquet")
    small = engine.catalogue_tables(tables["eod_loans"], catalog)
    (directory / CATALOGUE_FILE).write_text(json.dumps({name: t.to_pylist() for name, t in small.items()}),
                                            encoding="utf-8")


def spark_session(master: str | None = None) -> SparkSession:
    """A session on ``master`` (a cluster's URL: ``spark://host:7077``, ``yarn``, ``k8s://…``; default
    ``ARREARS_SPARK_MASTER``, else a small local session: two cores, few shuffle partitions). Everything else about
    a cluster (executors, memory, the driver's address the executors call back) comes from Spark's own
    configuration (``SPARK_CONF_DIR/spark-defaults.conf``), as for any Spark application."""
    from pyspark.sql import SparkSession

    master = master or os.environ.get("ARREARS_SPARK_MASTER") or "local[2]"
    builder = (SparkSession.builder.master(master).appName("arrears-eod")
               .config("spark.ui.showConsoleProgress", "false"))
    if master.startswith("local"):  # one machine: a portfolio small enough not to need more
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = (builder.config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
                   .config("spark.sql.adaptive.enabled", "false").config("spark.driver.bindAddress", "127.0.0.1"))
    return builder.getOrCreate()


def _catalogue(directory: Path) -> dict[str, pa.Table]:
    data = json.loads((directory / CATALOGUE_FILE).read_text(encoding="utf-8"))
    return {name: pa.Table.from_pylist(data[name], schema=schema) for name, schema in CATALOGUE_SCHEMAS.items()}


def run_spark(inputs_dir: Path, business_date: date, catalog: Catalog, output_dir: Path, *,
              spark: SparkSession | None = None, today: date | None = None,
              on_step: Callable[[str], None] | None = None) -> EngineOutputs:
    """The EOD run for ``business_date`` on Spark over the files ``write_inputs`` wrote to ``inputs_dir``."""
    engine.check_business_date(business_date, today)
    session = spark or spark_session()
    for name, file in INPUT_FILES.items():  # a file: URI, whatever the cluster's default file system is
        session.read.parquet((inputs_dir / f"{file}.parquet").resolve().as_uri()).createOrReplaceTempView(name)
    for name, table in _catalogue(inputs_dir).items():
        session.createDataFrame(table).createOrReplaceTempView(name)
    for step in sql.steps(business_date, catalog.restructuring, catalogue.top_dpd(catalog)):
        frame = session.sql(to_spark(step.sql))
        if not step.view:
            frame = frame.localCheckpoint(eager=True)  # a table: computed once, its lineage cut
        frame.createOrReplaceTempView(step.name)
        if on_step is not None:
            on_step(step.name)
    missing = session.sql(to_spark(sql.MISSING_DUE_DATES)).collect()
    if missing:
        raise engine.missing_due_dates(missing[0][0])
    raw = {}
    for name, query in sql.OUTPUTS.items():
        target = output_dir / name
        session.sql(to_spark(query)).coalesce(1).write.mode("overwrite").parquet(target.resolve().as_uri())
        raw[name] = pq.read_table(target)
    return EngineOutputs(**engine.decode_outputs(raw, catalog))


class SparkEngine:
    """The engine ``service.run_date`` takes (``arrears eod --engine spark``): each date's inputs written as Parquet
    under ``work_dir/<date>/in``, the run on ``spark`` (``spark_session()`` if not given), its outputs under
    ``work_dir/<date>/out``. On a cluster ``work_dir`` must be one directory for this process and the executors (a
    shared file system); no Python runs on the executors, only the SQL."""

    def __init__(self, work_dir: Path, spark: SparkSession | None = None) -> None:
        self.work_dir, self.spark = Path(work_dir), spark

    def __call__(self, inputs: EngineInputs, business_date: date, catalog: Catalog) -> EngineOutputs:
        if self.spark is None:
            self.spark = spark_session()
        run_dir = self.work_dir / business_date.isoformat()
        write_inputs(inputs, run_dir / "in", catalog)
        return run_spark(run_dir / "in", business_date, catalog, run_dir / "out", spark=self.spark)

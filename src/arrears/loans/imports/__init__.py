"""Importing borrowers, loans (with given or generated schedules) and payments from CSV, XLSX, Parquet.

Set-based from end to end: a file becomes an Arrow table, every row is checked by SQL in DuckDB,
good rows are written in bulk, schedules are generated columnar, and the ledger entries for new
loans are made by INSERT … SELECT. By default one bad row rejects the whole file (nothing is
written); with ``skip_invalid`` the good rows go in and the bad ones go to a rejects file.
"""

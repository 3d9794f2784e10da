"""Reading CSV, XLSX and Parquet files into Arrow tables of text, with the file's row numbers.

Every column is read as text so that validation (not the reader) decides what a bad value is and
can report it by row and column. ``_row`` is the row number a person sees: in CSV and XLSX the
header is row 1 and the first record row 2; in Parquet the first record is row 1.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from arrears.errors import InvalidInput

ROW = "_row"
FORMATS = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".parquet": "parquet", ".pq": "parquet"}


def read_table(path: str | Path) -> pa.Table:
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise InvalidInput(f"{path.name}: unsupported file type {path.suffix!r}; use .csv, .xlsx or .parquet",
                           field="file", rule="file.type")
    if not path.exists():
        raise InvalidInput(f"{path}: no such file", field="file", rule="file.exists")
    try:
        table, first_row = {"csv": _csv, "xlsx": _xlsx, "parquet": _parquet}[kind](path)
    except InvalidInput:
        raise
    except Exception as exc:  # a malformed file: name it and the reader's complaint
        raise InvalidInput(f"{path.name}: cannot read as {kind}: {exc}", field="file", rule="file.format") from exc
    rows = pa.array(range(first_row, first_row + table.num_rows), pa.int64())
    return table.append_column(ROW, rows)


def _normalise_names(names: list[str]) -> list[str]:
    clean = [str(n).strip().lower() for n in names]
    dupes = {n for n in clean if clean.count(n) > 1}
    if dupes:
        raise InvalidInput(f"duplicate column(s) {sorted(dupes)}", field="header", rule="header.unique")
    return clean


def _csv(path: Path) -> tuple[pa.Table, int]:
    with path.open("rb") as f:
        head = f.read(3)
    # Excel writes CSV with a UTF-8 BOM; pyarrow reads it as part of the first name otherwise.
    read = pacsv.ReadOptions(encoding="utf-8-sig" if head == b"\xef\xbb\xbf" else "utf8")
    names = pacsv.open_csv(path, read_options=read).schema.names
    convert = pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=True)
    table = pacsv.read_csv(path, read_options=read, convert_options=convert)
    return table.rename_columns(_normalise_names(table.column_names)), 2


def _xlsx(path: Path) -> tuple[pa.Table, int]:
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = next(rows, None)
        if not header:
            raise InvalidInput(f"{path.name}: the first sheet is empty", field="file", rule="file.empty")
        names = _normalise_names([h if h is not None else "" for h in header])
        columns: list[list[str | None]] = [[] for _ in names]
        for record in rows:
            for i in range(len(names)):
                value = record[i] if i < len(record) else None
                columns[i].append(_cell_text(value))
    finally:
        book.close()
    return pa.table({n: pa.array(c, pa.string()) for n, c in zip(names, columns)}), 2


def _cell_text(value: object) -> str | None:
    """A spreadsheet cell as the text a person typed. Numbers stored as floats by Excel are turned
    into text with repr(), which round-trips; validation then refuses anything not exact to the fen."""
    if value is None:
        return None
    if hasattr(value, "date") and hasattr(value, "hour"):  # datetime -> its date
        return value.date().isoformat()  # type: ignore[attr-defined]
    if hasattr(value, "isoformat"):
        return value.isoformat()  # type: ignore[attr-defined]
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _parquet(path: Path) -> tuple[pa.Table, int]:
    table = pq.read_table(path)
    table = table.rename_columns(_normalise_names(table.column_names))
    return pa.table({n: _as_text(table.column(n)) for n in table.column_names}), 1


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_floating(column.type):
        raise InvalidInput(f"column of type {column.type} found; amounts and rates must be text, decimal or "
                           "integer columns, never floating point", field="file", rule="file.no_float")
    return column.cast(pa.string())

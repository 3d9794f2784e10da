"""The dashboards as an XLSX workbook (openpyxl): one sheet per figure, the page's numbers — counts as integers,
amounts in yuan as numbers with two decimals, rates as percentages — under headers in the page's language (the
names come from the templates' catalogue, ``dashboards/_names.html``)."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Font

from arrears.reports.figures import Dashboard
from arrears.web.render import templates

FORMATS = {"fen": "#,##0.00", "count": "#,##0", "rate": "0.00%", "date": "yyyy-mm-dd"}


@cache
def _template_names(locale: str) -> str:
    return templates.env.get_template("dashboards/_names_json.html").render(locale=locale)


def names(locale: str, level_names: dict[str, str]) -> dict:
    """Sheet titles, column headers and code names in ``locale`` (codes of the schemes from their own data)."""
    found = json.loads(_template_names(locale))
    found["codes"] = {**level_names, **found["codes"]}
    return found


def cell_value(kind: str, value, codes: dict[str, str]):
    if value is None:
        return None
    if kind == "fen":
        return Decimal(value) / 100
    if kind == "text":
        return codes.get(value, value)
    return value


def workbook(board: Dashboard, locale: str, level_names: dict[str, str]) -> bytes:
    text = names(locale, level_names)
    book = Workbook()
    book.remove(book.active)
    for key, figure in board.figures.items():
        sheet = book.create_sheet(text["titles"][key][:31])
        sheet.append([text["columns"][c] for c, _ in figure.columns])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in figure.rows:
            sheet.append([cell_value(kind, v, text["codes"]) for (_, kind), v in zip(figure.columns, row)])
        for j, (_, kind) in enumerate(figure.columns, start=1):
            sheet.column_dimensions[sheet.cell(1, j).column_letter].width = 18
            if kind in FORMATS:
                for (cell,) in sheet.iter_rows(min_row=2, min_col=j, max_col=j):
                    cell.number_format = FORMATS[kind]
        sheet.freeze_panes = "A2"
    out = BytesIO()
    book.save(out)
    return out.getvalue()

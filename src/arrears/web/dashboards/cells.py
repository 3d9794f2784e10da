"""Each figure's cells as the page shows them, formatted once here rather than by a template macro per cell
(a year of figures is thousands of cells): numbers with thousands separators, fen in yuan, rates in per cent,
dates in the page's language (``i18n.format_date``), codes by their names in the page's language."""

from __future__ import annotations

from markupsafe import Markup, escape

from arrears.money import format_yuan
from arrears.reports.figures import Figure
from arrears.web.i18n import format_date


def shown(kind: str, value, names: dict[str, str], locale: str) -> str:
    if value is None:
        return "—"
    if kind == "fen":
        return format_yuan(int(value))
    if kind == "count":
        return f"{value:,}"
    if kind == "rate":
        return f"{value:.2%}"
    if kind == "date":
        return format_date(value, locale)
    return names.get(value) or value


def rows(figure: Figure, names: dict[str, str], locale: str) -> list[list[tuple[str, str]]]:
    """(raw value for data-value, text shown) per cell."""
    kinds = [kind for _, kind in figure.columns]
    return [[("" if v is None else str(v), shown(k, v, names, locale)) for k, v in zip(kinds, row)] for row in figure.rows]


def body(figure: Figure, names: dict[str, str], locale: str) -> Markup:
    """The table body's rows as markup (escaped here: thousands of cells are too slow as template loops)."""
    return Markup("".join("<tr>" + "".join(f'<td data-value="{escape(raw)}">{escape(text)}</td>' for raw, text in row)
                          + "</tr>\n" for row in rows(figure, names, locale)))

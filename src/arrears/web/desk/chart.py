"""A plan's payments as an inline SVG bar chart, drawn on the server (no chart library, works offline).
Only geometry lives here, in whole units of the chart's viewBox; the template draws and labels it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

WIDTH, HEIGHT, LEFT, TOP, BOTTOM = 600, 180, 8, 12, 20  # viewBox units: room above the bars and for the axis
MAX_BAR = 40


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    seq: int
    due_on: date
    total_fen: int


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    baseline: int
    bars: tuple[Bar, ...]
    max_fen: int


def payments_chart(schedule: list[tuple[int, date, int]]) -> Chart:
    """Bars for (seq, due date, total fen) rows: heights scale to the largest payment; a zero payment is a
    one-unit stub so the month still shows."""
    plot_w, plot_h = WIDTH - 2 * LEFT, HEIGHT - TOP - BOTTOM
    n = max(len(schedule), 1)
    slot = plot_w // n if n else plot_w
    bar_w = max(1, min(MAX_BAR, slot - max(1, slot // 5)))
    top = max((total for _, _, total in schedule), default=0)
    bars = []
    for k, (seq, due, total) in enumerate(schedule):
        h = max(1, total * plot_h // top) if top else 1
        x = LEFT + k * plot_w // n + (slot - bar_w) // 2
        bars.append(Bar(x, TOP + plot_h - h, bar_w, h, seq, due, total))
    return Chart(WIDTH, HEIGHT, TOP + plot_h, tuple(bars), top)


def of_plan(plan) -> Chart:
    return payments_chart([(i.seq, i.due_on, i.total) for i in plan.schedule])

"""Server-rendered charts: the geometry of a horizontal bar chart as whole numbers, for an inline SVG the
template draws (no chart library, nothing loaded from elsewhere)."""

from __future__ import annotations

from dataclasses import dataclass

BAR_HEIGHT = 24
GAP = 8
LABEL_WIDTH = 160
PLOT_WIDTH = 420


@dataclass(frozen=True)
class Bar:
    y: int
    width: int  # in px, proportional to the value (at least 1 px for a value above zero)
    value: int


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    height: int
    width: int = LABEL_WIDTH + PLOT_WIDTH + 60
    label_width: int = LABEL_WIDTH
    bar_height: int = BAR_HEIGHT


def bars(values: list[int]) -> Chart:
    top = max(values, default=0)
    out = [Bar(GAP + i * (BAR_HEIGHT + GAP), 0 if top == 0 or v == 0 else max(1, v * PLOT_WIDTH // top), v)
           for i, v in enumerate(values)]
    return Chart(out, GAP + len(values) * (BAR_HEIGHT + GAP))

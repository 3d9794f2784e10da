"""Chart geometry for the inline SVG of the dashboards (no chart library): coordinates in the SVG's own units.
Only numbers and codes leave here; the template names the codes and formats the numbers in the page's language."""

from __future__ import annotations

from datetime import date

from markupsafe import Markup  # numbers only: the rectangles of thousands of segments

W, H = 640, 260  # viewBox of a time chart
LEFT, RIGHT, TOP, BOTTOM = 70, 10, 10, 30
BAR_H = 26  # one row of a bar chart


def _nice(top: int) -> int:
    """A round axis maximum ≥ top (1, 2 or 5 times a power of ten)."""
    if top <= 0:
        return 1
    power = 1
    while power * 10 <= top:
        power *= 10
    return next(m * power for m in (1, 2, 5, 10) if m * power >= top)


def stacked(points: list[tuple[date, str, int]], levels: list[str], granularity: str = "day") -> dict:
    """Stacked columns, one per date, one segment per level in ``levels`` order (bottom first). ``granularity``
    (day, week, month: what one column stands for) says how the template writes the date axis (``tick_date``)."""
    dates = sorted({d for d, _, _ in points})
    values = {(d, level): v for d, level, v in points}
    totals = [sum(values.get((d, lv), 0) for lv in levels) for d in dates]
    top = _nice(max(totals, default=0))
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM  # integer geometry: the SVG needs no finer unit
    step = plot_w // max(len(dates), 1)
    width = max(step * 4 // 5, 1)
    columns = []
    for i, d in enumerate(dates):
        y, segments = H - BOTTOM, []
        for k, level in enumerate(levels):
            v = values.get((d, level), 0)
            h = plot_h * v // top
            y -= h
            if v:
                segments.append({"level": level, "index": k, "value": v, "y": y, "h": h})
        columns.append({"date": d, "x": LEFT + i * step + (step - width) // 2, "w": width,
                        "segments": segments, "total": totals[i]})
    ticks = [{"value": top * j // 4, "y": H - BOTTOM - plot_h * j // 4} for j in range(5)]
    every = max(1, len(dates) // 6)
    labels = [{"date": c["date"], "x": c["x"] + c["w"] // 2} for c in columns[::every]]
    rects = Markup("".join(f'<rect class="s{s["index"]}" x="{c["x"]}" y="{s["y"]}" width="{c["w"]}" '
                           f'height="{s["h"]}"/>' for c in columns for s in c["segments"]))
    return {"w": W, "h": H, "left": LEFT, "right": W - RIGHT, "bottom": H - BOTTOM, "columns": columns,
            "ticks": ticks, "labels": labels, "levels": levels, "rects": rects, "granularity": granularity}


def bars(items: list[tuple[str, int]]) -> dict:
    """Horizontal bars, one row per (code, value), scaled to the largest."""
    top = max((v for _, v in items), default=0) or 1
    rows = [{"code": code, "value": v, "y": i * BAR_H + 4, "w": 360 * v // top}
            for i, (code, v) in enumerate(items)]
    return {"w": W, "h": max(len(items), 1) * BAR_H + 8, "rows": rows, "x0": 240}


def heat(rows: list[tuple[str, str, int]], from_levels: list[str], to_levels: list[str]) -> dict:
    """The roll-rate matrix: cells shaded by their share of the row (per mille, for the shading class)."""
    counts = {(a, b): n for a, b, n in rows}
    cell, x0, y0 = 56, 90, 40
    out = []
    for i, a in enumerate(from_levels):
        total = sum(counts.get((a, b), 0) for b in to_levels)
        for j, b in enumerate(to_levels):
            n = counts.get((a, b), 0)
            share = n * 1000 // total if total else 0
            out.append({"from": a, "to": b, "n": n, "permille": share, "shade": min(share // 200, 4),
                        "percent": f"{share // 10}.{share % 10}",
                        "x": x0 + j * cell, "y": y0 + i * cell})
    return {"w": x0 + cell * len(to_levels) + 10, "h": y0 + cell * len(from_levels) + 10, "cell": cell,
            "x0": x0, "y0": y0, "cells": out, "from_levels": from_levels, "to_levels": to_levels}

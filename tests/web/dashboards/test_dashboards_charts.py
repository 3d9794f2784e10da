"""The SVG geometry of the dashboards: stacked columns stay inside the plot and grow with their values, bars scale
to the largest, the roll-rate cells' shares of a row."""

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from arrears.web.dashboards import charts

LEVELS = ["M0", "M1", "M2"]


@given(st.lists(st.tuples(st.integers(0, 61), st.sampled_from(LEVELS), st.integers(0, 10**9)), max_size=120,
                unique_by=lambda t: (t[0], t[1])))
def test_stacked_columns_fit_the_plot_and_follow_the_values(points):
    rows = [(date(2026, 1, 1) + timedelta(days=k), lv, v) for k, lv, v in points]
    c = charts.stacked(rows, LEVELS)
    assert c["granularity"] == "day" and charts.stacked(rows, LEVELS, "month")["granularity"] == "month"
    assert len(c["columns"]) == len({d for d, _, _ in rows})
    top = c["ticks"][-1]["value"]
    for col in c["columns"]:
        assert charts.LEFT <= col["x"] and col["x"] + col["w"] <= c["right"]
        assert sum(s["h"] for s in col["segments"]) <= c["bottom"] - charts.TOP
        assert all(s["y"] >= charts.TOP and s["h"] == (c["bottom"] - charts.TOP) * s["value"] // top
                   for s in col["segments"])
        assert col["total"] <= top
    assert str(c["rects"]).count("<rect") == sum(len(col["segments"]) for col in c["columns"])


@given(st.lists(st.tuples(st.text(min_size=1, max_size=5), st.integers(0, 10**6)), max_size=12))
def test_bars_scale_to_the_largest(items):
    b = charts.bars(items)
    widths = [r["w"] for r in b["rows"]]
    if items and max(v for _, v in items):
        assert max(widths) == 360
        assert all(w1 <= w2 for (_, v1), w1 in zip(items, widths) for (_, v2), w2 in zip(items, widths) if v1 <= v2)


def test_roll_cells_show_each_rows_share():
    h = charts.heat([("M1", "M0", 3), ("M1", "M1", 1), ("M0", "M0", 5)], ["M0", "M1"], ["M0", "M1", "paid"])
    cells = {(c["from"], c["to"]): c for c in h["cells"]}
    assert cells[("M1", "M0")]["percent"] == "75.0" and cells[("M1", "M1")]["percent"] == "25.0"
    assert cells[("M0", "M0")]["shade"] == 4 and cells[("M0", "paid")]["n"] == 0

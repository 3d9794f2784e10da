"""/dashboards (reports:read) and its XLSX export. The figures come from ``arrears.reports.figures``; this module
only checks who asks, validates the filters, lays out the charts and hands the same figures to the template and
to the workbook."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from arrears.auth.model import Permission
from arrears.cases.policy import policy as case_policy
from arrears.compliance.policy import packaged_profiles
from arrears.products.catalog import catalog
from arrears.reports.figures import Dashboard, dashboard, teams
from arrears.web.dashboards import cells, charts, xlsx
from arrears.web.dashboards.filters import parse
from arrears.web.deps import SessionDep, Today
from arrears.web.i18n import request_locale
from arrears.web.render import current_principal, render, to_login

router = APIRouter(include_in_schema=False)
BUCKETS, CLASSES = "m_buckets", "cbirc2023"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _levels() -> tuple[list, list]:
    cat = catalog()
    return list(cat.buckets[BUCKETS].levels), list(cat.classifications[CLASSES].levels)


def level_names(locale: str) -> dict[str, str]:
    """Names of the codes that policy data names itself: buckets, classes, complaint categories, teams."""
    buckets, classes = _levels()
    things = [*buckets, *classes, *case_policy().complaints.categories, *teams()]
    names = {t.code: (t.name_en if locale == "en" else t.name_zh) for t in things}
    for profile in packaged_profiles().values():  # the guard's rules, named by the profiles' own data
        for rule, info in profile.rules.items():
            names.setdefault(rule, info.reason_en if locale == "en" else info.reason_zh)
    return names


def _allowed(request: Request, session) -> tuple[object, Response | None]:
    me = current_principal(request, session)
    if me is None:
        return None, to_login()
    if me.self_scoped:  # a borrower has no dashboards: the page does not exist for them
        return me, render(request, "not_found.html", me, status=404)
    if not me.can(Permission.reports_read):
        return me, render(request, "forbidden.html", me, status=403)
    return me, None


def _board(request: Request, session, today, product: str, team: str, start: str, end: str):
    filters, errors, typed = parse(session, today, product=product, team=team, start=start, end=end)
    board = None if filters is None else dashboard(session, filters, today=today, now=datetime.now(UTC))
    return board, errors, typed


def _charts(board: Dashboard) -> dict:
    buckets, classes = (lv.code for lv in _levels()[0]), (lv.code for lv in _levels()[1])
    buckets, classes = list(buckets), list(classes)
    out = {}
    for name, levels in (("portfolio_bucket", buckets), ("portfolio_classification", classes)):
        rows = board.figures[name].rows
        out[f"{name}_loans"] = charts.stacked([(r[0], r[1], r[2]) for r in rows], levels, board.granularity)
        out[f"{name}_balance"] = charts.stacked([(r[0], r[1], r[3]) for r in rows], levels, board.granularity)
    roll = board.figures["roll_rate"].rows
    present = {r[0] for r in roll}
    out["roll"] = charts.heat([(r[0], r[1], r[2]) for r in roll], [b for b in buckets if b in present],
                              buckets + ["paid", "exited"])
    out["roll_totals"] = {b: sum(r[2] for r in roll if r[0] == b) for b in present}
    out["offers"] = charts.bars(board.figures["offers"].rows)
    out["agreements"] = charts.bars(board.figures["agreements"].rows)
    out["complaints"] = charts.bars([(r[0], r[1]) for r in board.figures["complaints"].rows])
    out["blocked"] = charts.bars(board.figures["blocked_contacts"].rows)
    out["rates"] = [{"code": r[0], "value": r[1], "y": i * 26 + 4,
                     "w": 0 if r[1] is None else int(360 * min(r[1], 1))}
                    for i, r in enumerate(board.figures["rates"].rows)]
    return out


@router.get("/dashboards", response_class=HTMLResponse)
def dashboards_page(request: Request, session: SessionDep, today: Today, product: str = "", team: str = "",
                    start: str = "", end: str = "") -> Response:
    me, refused = _allowed(request, session)
    if refused is not None:
        return refused
    board, errors, typed = _board(request, session, today, product, team, start, end)
    locale = request_locale(request)
    names = xlsx.names(locale, level_names(locale))["codes"]
    tables = board and {key: cells.body(fig, names, locale) for key, fig in board.figures.items()}
    return render(request, "dashboards/index.html", me, status=400 if errors else 200, board=board, errors=errors,
                  typed=typed, products=catalog().products, teams=teams(), charts=board and _charts(board),
                  names=names, tables=tables)


@router.get("/dashboards/export.xlsx")
def dashboards_export(request: Request, session: SessionDep, today: Today, product: str = "", team: str = "",
                      start: str = "", end: str = "") -> Response:
    me, refused = _allowed(request, session)
    if refused is not None:
        return refused
    board, errors, typed = _board(request, session, today, product, team, start, end)
    if board is None:
        return render(request, "dashboards/index.html", me, status=400, board=None, errors=errors, typed=typed,
                      products=catalog().products, teams=teams(), charts=None, names={}, tables=None)
    locale = request_locale(request)
    content = xlsx.workbook(board, locale, level_names(locale))
    filename = f"dashboards-{board.filters.start.isoformat()}-{board.filters.end.isoformat()}.xlsx"
    return Response(content, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{filename}"'})

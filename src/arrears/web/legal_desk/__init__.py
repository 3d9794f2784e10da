"""Pages of the legal officer and the complaint desk: /complaints (complaints.py) and /legal (legal_cases.py,
legal_forms.py). They call the services the API calls; see docs/legal.md."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter

from arrears.settings import BUSINESS_TZ
from arrears.web.render import templates


def _local(moment: datetime | None) -> datetime | None:
    return moment.astimezone(ZoneInfo(BUSINESS_TZ)) if moment else None


# A stored time (UTC) in the business time zone, as a date or a date with the time of day.
templates.env.filters["cn_local_date"] = lambda m: templates.env.filters["cn_date"](_local(m))
templates.env.filters["cn_local_time"] = lambda m: (
    f"{templates.env.filters['cn_date'](_local(m))} {_local(m):%H:%M}" if m else "")

from arrears.web.legal_desk import complaints, exits, legal_cases, legal_forms, objections

router = APIRouter(include_in_schema=False)
router.include_router(complaints.router)
router.include_router(legal_cases.router)
router.include_router(legal_forms.router)
router.include_router(exits.router)
router.include_router(objections.router)

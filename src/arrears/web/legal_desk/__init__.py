"""Pages of the legal officer, the complaint desk and the bad-debt exits: /complaints (complaints.py), /legal
(legal_cases.py, legal_forms.py), /writeoffs and /transfers (exits.py), /credit/objections (objections.py).
They call the services the API calls; see docs/legal.md."""

from __future__ import annotations

from fastapi import APIRouter

from arrears.web.legal_desk import complaints, exits, legal_cases, legal_forms, objections

router = APIRouter(include_in_schema=False)
for _area in (complaints, legal_cases, legal_forms, exits, objections):
    router.include_router(_area.router)

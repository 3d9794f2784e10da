"""Staff pages of negotiated repayment: the negotiations list, the negotiation desk (statement, affordability,
ranked options, the calculator, offers, the agreement) and the supervisor's approvals. Every action calls the
same service function as the API (``negotiation/``, ``agreements/``); no use case lives here."""

from fastapi import APIRouter

from arrears.web.desk import approvals, desk, lists

router = APIRouter(include_in_schema=False)
for _part in (lists.router, approvals.router, desk.router):
    router.include_router(_part)

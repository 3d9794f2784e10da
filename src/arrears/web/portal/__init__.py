"""The borrower portal (mobile first): sign-in with a one-time code, what is owed and why, hardship with
evidence, plans and offers, signing the agreement, messages and complaints. Every page calls the same service
the API calls for a borrower principal; anything not the signed-in borrower's answers 404."""

from fastapi import APIRouter

from arrears.web.portal import agreements, complaints, hardship, inbox, owed, plans, signin

router = APIRouter(include_in_schema=False)
for _module in (signin, owed, hardship, plans, agreements, inbox, complaints):
    router.include_router(_module.router)

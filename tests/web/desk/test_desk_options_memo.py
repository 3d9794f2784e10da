"""The desk remembers the ranked options (web/desk/view.ranked_options) only as long as their inputs are the
same: the service's own answer each time, and a new one when the affordability figures change."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest
from desk_world import TODAY, build, statement

from arrears.negotiation.affordability import assess
from arrears.negotiation.debt import load_context
from arrears.negotiation.options import generate_options
from arrears.privacy import PersonalDataCipher
from arrears.web.desk.view import ranked_options

pytestmark = pytest.mark.business_date("2026-03-10")


def test_remembered_options_are_the_services_and_follow_the_statement(db, secret_key, make_app):
    w = build(db, PersonalDataCipher(secret_key))
    request = SimpleNamespace(app=make_app())
    with db.session() as s:
        ctx = load_context(s, w["loan"], TODAY)
    a = assess(statement())
    first = ranked_options(request, ctx, a)
    assert [o.id for o in first] == [o.id for o in generate_options(ctx, a)]
    assert ranked_options(request, ctx, a) is first  # the same inputs: remembered
    poorer = assess(replace(statement(), incomes={"unemployment_benefit": 180_000}))
    other = ranked_options(request, ctx, poorer)
    assert other is not first and [o.affordable for o in other] == [o.affordable for o in generate_options(ctx, poorer)]
    assert sum(o.affordable is True for o in other) < sum(o.affordable is True for o in first)
    later = ranked_options(request, replace(ctx, as_of=ctx.as_of.replace(day=11)), a)
    assert later is not first and later[0].plan.as_of.day == 11

"""Negotiation rounds on both backends: offers, counter-offers, accept/reject/withdraw, expiry, approvals
(maker-checker) and the race of two people acting at once (exactly one wins, the other gets a 409)."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest

from arrears.audit.service import verify_events
from arrears.audit.tables import Event
from arrears.auth.model import Role
from arrears.db.base import utcnow
from arrears.errors import Conflict, Forbidden, InvalidInput
from arrears.negotiation import rounds
from arrears.negotiation.accepted import accepted_offer
from arrears.negotiation.plan import Amounts
from arrears.negotiation.serial import plan_digest, plan_to_dict
from arrears.negotiation.tables import Negotiation, Offer
from arrears.negotiation.terms import Terms
from helpers import TODAY, add_wang_loan, principal

NEGO, NEGO2 = principal(Role.negotiator, "nego1"), principal(Role.negotiator, "nego2")
SUP = principal(Role.supervisor, "sup1")
PLAIN = Terms(24, Decimal("0.12"))
BIG = Terms(24, Decimal("0.12"), waiver=Amounts(principal=300_000))  # principal reduction: supervisor only


@pytest.fixture
def world(db):
    with db.session() as s:
        b, loan = add_wang_loan(s)
        neg = rounds.open_negotiation(s, NEGO, loan_id=loan.id, today=TODAY)
        s.commit()
        return {"loan": loan.id, "neg": neg.id, "me": principal(Role.borrower, "xiaowang", b.id, uid=9)}


def _offer(db, who, terms, **kw) -> int:
    with db.session() as s:
        o = rounds.make_offer(s, who, negotiation_id=kw.pop("neg"), terms=terms, today=TODAY, **kw)
        s.commit()
        return o.id


def test_an_offer_accepted_by_the_borrower_concludes_the_negotiation_with_its_plan(db, world):
    oid = _offer(db, NEGO, PLAIN, neg=world["neg"])
    with db.session() as s:
        assert s.get(Offer, oid).status == "open"
        with pytest.raises(Forbidden) as err:  # the side that made it cannot accept it
            rounds.accept(s, NEGO2, oid)
        assert err.value.rule == "offer.other_side"
        rounds.accept(s, world["me"], oid)
        s.commit()
    with db.session() as s:
        neg = s.get(Negotiation, world["neg"])
        assert (neg.status, neg.accepted_offer_id) == ("agreed", oid)
        got = accepted_offer(s, neg.id)
        offer = s.get(Offer, oid)
        assert plan_to_dict(got.plan) == offer.plan and plan_digest(got.plan) == offer.plan_digest
        assert got.accepted_by == "xiaowang" and got.plan.params["periods"] == 24 and got.loan_id == world["loan"]
        assert got.plan.debt.penalty == 12_000 and got.plan.total_to_pay == offer.total_to_pay_fen
        checked, problems = verify_events(s)
        assert problems == [] and checked >= 3
        actions = [e.action for e in s.query(Event).filter_by(subject_type="negotiation", subject_id=str(neg.id))
                   .order_by(Event.seq)]
        assert actions == ["negotiation.opened", "negotiation.offer_made", "negotiation.offer_accepted"]
        with pytest.raises(Conflict):  # nothing more to negotiate once agreed
            rounds.make_offer(s, NEGO, negotiation_id=neg.id, terms=PLAIN, today=TODAY)


def test_a_counter_offer_supersedes_the_live_offer_and_rounds_are_numbered(db, world):
    first = _offer(db, NEGO, PLAIN, neg=world["neg"])
    counter = _offer(db, world["me"], Terms(36, Decimal("0.06")), neg=world["neg"], counter_to_id=first)
    with db.session() as s:
        a, b = s.get(Offer, first), s.get(Offer, counter)
        assert (a.status, b.status, a.seq, b.seq, b.party, b.counter_to_id) == (
            "superseded", "open", 1, 2, "borrower", first)
        assert s.get(Negotiation, world["neg"]).rounds == 2
        with pytest.raises(Conflict) as err:
            rounds.accept(s, world["me"], first)
        assert err.value.rule == "offer.not_open"
        rounds.reject(s, NEGO, counter)
        s.commit()
        assert s.get(Offer, counter).status == "rejected" and s.get(Negotiation, world["neg"]).status == "open"


def test_accepting_an_expired_or_withdrawn_offer_is_an_error(db, world):
    oid = _offer(db, NEGO, PLAIN, neg=world["neg"], expires_in_hours=1)
    with db.session() as s:
        with pytest.raises(Conflict) as err:
            rounds.accept(s, world["me"], oid, now=utcnow() + timedelta(hours=2))
        assert err.value.rule == "offer.expired"
        assert rounds.effective_status(s.get(Offer, oid), utcnow() + timedelta(hours=2)) == "expired"
    oid2 = _offer(db, NEGO, PLAIN, neg=world["neg"])
    with db.session() as s:
        with pytest.raises(Forbidden):  # the borrower cannot withdraw the institution's offer
            rounds.withdraw(s, world["me"], oid2)
        rounds.withdraw(s, NEGO2, oid2)
        s.commit()
    with db.session() as s:
        with pytest.raises(Conflict) as err:
            rounds.accept(s, world["me"], oid2)
        assert err.value.rule == "offer.withdrawn"
        assert s.get(Negotiation, world["neg"]).status == "open"


def test_above_the_makers_authority_an_offer_waits_for_a_supervisor_who_did_not_make_it(db, world):
    oid = _offer(db, NEGO, BIG, neg=world["neg"])
    with db.session() as s:
        o = s.get(Offer, oid)
        assert (o.status, o.required_authority) == ("pending_approval", "supervisor")
        with pytest.raises(Conflict):
            rounds.accept(s, world["me"], oid)  # not yet approved
        with pytest.raises(Forbidden) as err:
            rounds.review_offer(s, NEGO, oid, approve=True)  # the maker
        assert err.value.rule == "approval.maker_checker"
        with pytest.raises(Forbidden) as err:
            rounds.review_offer(s, NEGO2, oid, approve=True)  # not enough authority
        assert err.value.rule == "approval.authority"
        rounds.review_offer(s, SUP, oid, approve=True)
        s.commit()
    with db.session() as s:
        o = s.get(Offer, oid)
        assert (o.status, o.approved_by) == ("open", "sup1")
        rounds.accept(s, world["me"], oid)
        s.commit()
        assert accepted_offer(s, world["neg"]).approved_by == "sup1"


def test_staff_accepting_a_borrowers_offer_needs_the_authority_and_may_not_have_recorded_it(db, world):
    oid = _offer(db, NEGO, BIG, neg=world["neg"], party="borrower")  # recorded from a call
    with db.session() as s:
        assert s.get(Offer, oid).status == "open"
        for who, rule in ((NEGO, "approval.maker_checker"), (NEGO2, "approval.authority")):
            with pytest.raises(Forbidden) as err:
                rounds.accept(s, who, oid)
            assert err.value.rule == rule
        rounds.accept(s, SUP, oid)
        s.commit()


def test_terms_beyond_the_limits_are_refused_naming_the_rule(db, world):
    with db.session() as s:
        with pytest.raises(InvalidInput) as err:
            rounds.make_offer(s, NEGO, negotiation_id=world["neg"], terms=Terms(61, Decimal("0.12")), today=TODAY)
        assert (err.value.field, err.value.rule) == ("periods", "plan.max_periods")
        with pytest.raises(InvalidInput) as err:
            rounds.make_offer(s, NEGO, negotiation_id=world["neg"], terms=Terms(12, Decimal("0.13")), today=TODAY)
        assert err.value.rule == "plan.max_rate"
        with pytest.raises(InvalidInput) as err:
            rounds.make_offer(s, NEGO, negotiation_id=world["neg"], today=TODAY,
                              terms=Terms(12, Decimal("0.12"), waiver=Amounts(principal=600_000)))  # 40% of principal
        assert err.value.rule == "approval.beyond_authority"
        with pytest.raises(Forbidden):
            rounds.make_offer(s, world["me"], negotiation_id=world["neg"], terms=PLAIN, today=TODAY,
                              party="institution")
        with pytest.raises(InvalidInput) as err:
            rounds.make_offer(s, world["me"], negotiation_id=world["neg"], terms=PLAIN, today=TODAY,
                              counter_to_id=424242)
        assert err.value.rule == "offer.counter_to_same_negotiation"
        assert s.query(Offer).count() == 0


def test_a_second_open_negotiation_for_the_loan_is_a_conflict(db, world):
    with db.session() as s:
        with pytest.raises(Conflict) as err:
            rounds.open_negotiation(s, SUP, loan_id=world["loan"], today=TODAY)
        assert err.value.rule == "negotiation.open_exists"


@pytest.mark.parametrize("second", ["accept", "withdraw"])
def test_two_people_acting_at_once_one_wins_and_the_other_gets_a_conflict(db, world, second):
    """Two sessions load the same offer; the first accepts and commits; the second (accepting too, or
    withdrawing) writes on stale rows and gets a Conflict — and nothing of it is written."""
    oid = _offer(db, world["me"], PLAIN, neg=world["neg"])  # the borrower's offer: staff accept it
    s1, s2 = db.session(), db.session()
    try:
        s1.get(Offer, oid), s2.get(Offer, oid)
        s1.get(Negotiation, world["neg"]), s2.get(Negotiation, world["neg"])
        rounds.accept(s1, NEGO, oid)
        s1.commit()
        with pytest.raises(Conflict) as err:
            if second == "accept":
                rounds.accept(s2, NEGO2, oid)
            else:
                rounds.withdraw(s2, world["me"], oid)
        assert err.value.rule in ("stale_version", "offer.not_open")
        s2.rollback()
    finally:
        s1.close(), s2.close()
    with db.session() as s:
        o = s.get(Offer, oid)
        assert (o.status, o.decided_by) == ("accepted", "nego1")
        assert s.get(Negotiation, world["neg"]).accepted_offer_id == oid


def test_two_threads_racing_on_one_negotiation_exactly_one_wins(db, world):
    """Truly concurrent: both sessions have read the rows before either writes; the loser blocks on the
    winner's row (or database) lock, then finds its version stale."""
    oid = _offer(db, world["me"], PLAIN, neg=world["neg"])
    barrier = threading.Barrier(2)
    results: dict[str, str] = {}

    def act(name, fn):
        s = db.session()
        try:
            s.get(Offer, oid), s.get(Negotiation, world["neg"])
            barrier.wait()
            fn(s)
            s.commit()
            results[name] = "won"
        except Conflict as exc:
            s.rollback()
            results[name] = exc.rule or "conflict"
        finally:
            s.close()

    threads = [threading.Thread(target=act, args=("accept", lambda s: rounds.accept(s, NEGO, oid))),
               threading.Thread(target=act, args=("withdraw", lambda s: rounds.withdraw(s, world["me"], oid)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results.values()).count("won") == 1, results
    loser = next(v for v in results.values() if v != "won")
    assert loser in ("stale_version", "offer.not_open", "offer.withdrawn")
    with db.session() as s:
        o = s.get(Offer, oid)
        winner = next(k for k, v in results.items() if v == "won")
        assert o.status == {"accept": "accepted", "withdraw": "withdrawn"}[winner]


def test_offer_terms_cannot_be_edited_and_an_altered_plan_is_caught_against_the_history(db, world):
    from sqlalchemy import text

    from arrears.negotiation.serial import plan_from_dict
    from arrears.negotiation.tables import offer_guard_drop
    oid = _offer(db, NEGO, PLAIN, neg=world["neg"])
    with db.session() as s:
        rounds.accept(s, world["me"], oid)
        s.commit()
    for sql in ("UPDATE negotiation_offers SET plan_digest = 'x' WHERE id = :i",
                "UPDATE negotiation_offers SET made_by = 'someone' WHERE id = :i",
                "DELETE FROM negotiation_offers WHERE id = :i"):
        with db.session() as s:
            with pytest.raises(Exception, match="immutable|never deleted"):
                s.execute(text(sql), {"i": oid})
                s.flush()
    with db.session() as s:  # someone with the power to drop the guard rewrites the plan and its digest
        for sql in offer_guard_drop(db.backend):
            s.execute(text(sql))
        offer = s.get(Offer, oid)
        plan = {**offer.plan, "schedule": [dict(r) for r in offer.plan["schedule"]]}
        plan["schedule"][0]["principal"] -= 1  # a fen moved later: still restates the debt (Plan.check passes)
        plan["schedule"][1]["principal"] += 1
        offer.plan, offer.plan_digest = plan, plan_digest(plan_from_dict(plan))
        s.commit()
    with db.session() as s:
        with pytest.raises(Conflict) as err:
            accepted_offer(s, world["neg"])
        assert err.value.rule == "offer.integrity"


def test_renegotiations_are_limited_by_the_product(db, world):
    from arrears.products.catalog import catalog
    limit = catalog().product("inclusive_loan").restructuring.max_renegotiations
    neg_id = world["neg"]
    for _ in range(limit + 1):
        oid = _offer(db, NEGO, PLAIN, neg=neg_id)
        with db.session() as s:
            rounds.accept(s, world["me"], oid)
            s.commit()
            if _ < limit:
                neg_id = rounds.open_negotiation(s, NEGO, loan_id=world["loan"], today=TODAY).id
                s.commit()
    with db.session() as s:
        with pytest.raises(Conflict) as err:
            rounds.open_negotiation(s, NEGO, loan_id=world["loan"], today=TODAY)
        assert err.value.rule == "negotiation.max_renegotiations"

"""Configuration chooses the completion model options are valued with: the active trained completion model of
the scores registry when ``completion.model`` is ``trained`` and one is active, else the transparent model."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest

from arrears.negotiation.completion import LogisticCompletionModel, TrainedCompletion, completion_model
from arrears.negotiation.config import policy
from arrears.negotiation.options import generate_options, rank
from arrears.negotiation.plan import Amounts
from arrears.negotiation.terms import DebtContext, baseline_payment
from arrears.products.catalog import catalog
from arrears.scores import registry
from arrears.scores.completion import TrainedCompletionModel, plan_features
from arrears.scores.model import ScoreModel


def _plans(n: int, seed: int) -> tuple[pa.Table, np.ndarray]:
    """Synthetic outcomes where longer plans complete more often (the transparent model says the opposite)."""
    rng = np.random.default_rng(seed)
    term = rng.integers(1, 61, n).astype(float)
    y = (rng.random(n) < 1 / (1 + np.exp(-(-2 + 0.08 * term)))).astype(float)
    table = pa.table({"payment_relief": rng.uniform(-0.5, 0.9, n), "plan_term": term,
                      "waiver_share": rng.uniform(0, 0.3, n), "burden": rng.uniform(0.1, 3, n),
                      "dpd_at_restructuring": rng.integers(0, 360, n).astype(float),
                      "product_code": rng.choice(["consumer_loan", "credit_card"], n)})
    return table, y


@pytest.fixture(scope="module")
def trained_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    train, y = _plans(6_000, 21)
    valid, yv = _plans(1_500, 22)
    registry.save(root, ScoreModel.fit("completion", train, y, valid, yv), {"source": "synthetic test"}, "# card\n")
    return root


def _ctx() -> DebtContext:
    cat = catalog()
    debt = Amounts(principal=3_000_000, interest=50_000, penalty=20_000, fee=0, cost=0)
    return DebtContext(loan_id=1, as_of=date(2026, 3, 20), debt=debt, contract_rate=Decimal("0.12"),
                       product=cat.product("consumer_loan"), legal=cat.legal, remaining_periods=12, dpd=95,
                       baseline_payment_fen=baseline_payment(debt, 12))


def _with_model(setting: str):
    pol = policy()
    return pol.model_copy(update={"completion": pol.completion.model_copy(update={"model": setting})})


def test_an_active_trained_model_values_and_ranks_the_options(trained_root):
    ctx, pol = _ctx(), _with_model("trained")
    model = completion_model(pol.completion, trained_root, ctx.product.code)
    assert isinstance(model, TrainedCompletion)
    options = generate_options(ctx, None, pol, model)
    # each probability is the trained model's on the plan as the scores capability describes it
    direct = TrainedCompletionModel.load(trained_root)
    for o in options:
        expected = direct.probability(plan_features(o.plan, ctx.baseline_payment_fen, ctx.dpd, "consumer_loan"))
        assert o.p_complete == expected
    assert rank(options) == options
    transparent = {o.id: o.p_complete for o in generate_options(ctx, None, pol)}
    assert any(transparent[o.id] != o.p_complete for o in options)
    # it learnt that longer plans complete more: the longest plan is more likely done than the shortest
    by_term = sorted(options, key=lambda o: len(o.plan.schedule))
    assert by_term[-1].p_complete > by_term[0].p_complete


def test_the_transparent_model_is_used_when_configured_or_when_no_model_is_active(trained_root, tmp_path):
    ctx = _ctx()
    transparent = generate_options(ctx, None, _with_model("trained"), LogisticCompletionModel(policy().completion))
    for setting, root in (("transparent", trained_root), ("trained", tmp_path), ("trained", None)):
        pol = _with_model(setting)
        model = completion_model(pol.completion, root, ctx.product.code)
        assert isinstance(model, LogisticCompletionModel)
        assert [(o.id, o.p_complete) for o in generate_options(ctx, None, pol, model)] == \
            [(o.id, o.p_complete) for o in transparent]


class _ByTerm:
    """A completion model that only looks at the plan's length: ``longer`` completes more, or less."""

    def __init__(self, longer: bool) -> None:
        self.longer = longer

    def probability(self, features) -> Decimal:  # noqa: ANN001
        term = min(Decimal(features["plan_term"]), Decimal(60))
        share = term / 60 if self.longer else 1 - term / 60
        return (Decimal("0.05") + Decimal("0.9") * share).quantize(Decimal("0.0001"))


def test_a_different_completion_probability_changes_the_ranking():
    ctx, pol = _ctx(), _with_model("transparent")
    patient, hasty = generate_options(ctx, None, pol, _ByTerm(True)), generate_options(ctx, None, pol, _ByTerm(False))
    assert {o.id for o in patient} == {o.id for o in hasty}  # the same candidates …
    assert [o.id for o in patient] != [o.id for o in hasty]  # … ranked differently
    assert len(patient[0].plan.schedule) > len(hasty[0].plan.schedule)
    for options in (patient, hasty):  # each ranking follows its own probabilities through expected recovery
        assert [o.expected_recovery_fen for o in options] == sorted((o.expected_recovery_fen for o in options),
                                                                   reverse=True)


def test_with_a_trained_model_active_its_probabilities_decide_the_ranking(tmp_path):
    """Two trained completion models, one learnt where longer plans complete more and one where they complete
    less: each, active in its registry, values the same candidates and ranks them differently."""
    roots = {}
    for name, sign in (("longer_completes", 1), ("shorter_completes", -1)):
        train, y = _plans(6_000, 31)
        valid, yv = _plans(1_500, 32)
        if sign < 0:  # the mirror image: a short plan is as likely done as a long one is in the other
            y, yv = 1 - y, 1 - yv
        roots[name] = tmp_path / name
        registry.save(roots[name], ScoreModel.fit("completion", train, y, valid, yv), {"source": name}, "# card\n")
    ctx, pol = _ctx(), _with_model("trained")
    ranked = {}
    for name, root in roots.items():
        model = completion_model(pol.completion, root, ctx.product.code)
        assert isinstance(model, TrainedCompletion)
        ranked[name] = generate_options(ctx, None, pol, model)
    longer, shorter = ranked["longer_completes"], ranked["shorter_completes"]
    assert {o.id for o in longer} == {o.id for o in shorter}
    assert [o.id for o in longer] != [o.id for o in shorter]
    p_long = {o.id: o.p_complete for o in longer}
    p_short = {o.id: o.p_complete for o in shorter}
    assert p_long[longer[0].id] > p_short[longer[0].id]  # the top plan of one model is one it rates higher
    assert p_short[shorter[0].id] > p_long[shorter[0].id]

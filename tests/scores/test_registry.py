"""Saved versions, the active version chosen by configuration, and refusal of a model that does not match the
feature schema. Also the plan-completion interface negotiation calls."""

import json
from datetime import date
from decimal import Decimal

import numpy as np
import pytest
import yaml

from arrears.errors import Conflict, InvalidInput, NotFound
from arrears.negotiation.plan import Amounts, Plan, PlanInstalment
from arrears.scores import registry
from arrears.scores.completion import CompletionFeatures, TrainedCompletionModel, plan_features
from arrears.scores.model import ScoreModel
from test_scorecard import plans


@pytest.fixture(scope="module")
def model() -> ScoreModel:
    train, y = plans(8_000, 11)
    valid, yv = plans(2_000, 12)
    return ScoreModel.fit("completion", train, y, valid, yv)


def _save(root, model, **kw):
    return registry.save(root, model, {"source": "test"}, "# card\n", **kw)


def test_a_saved_version_loads_back_and_scores_the_same(tmp_path, model):
    version = _save(tmp_path, model)
    loaded, manifest = registry.load(tmp_path, "completion")
    assert manifest["version"] == version and manifest["schema_hash"] == model.schema_hash
    assert [f["name"] for f in manifest["features"]] == model.feature_names
    table, _ = plans(500, 13)
    np.testing.assert_allclose(loaded.predict(table), model.predict(table), rtol=1e-9)
    assert (tmp_path / "completion" / version / "card.md").exists()


def test_the_active_version_is_the_configured_one(tmp_path, model):
    first = _save(tmp_path, model)
    second = _save(tmp_path, model, activate=False)
    assert first != second and registry.versions(tmp_path, "completion") == sorted([first, second])
    assert registry.load(tmp_path, "completion")[1]["version"] == first
    registry.set_active(tmp_path, "completion", second)
    assert yaml.safe_load((tmp_path / "active.yaml").read_text()) == {"completion": second}
    assert registry.load(tmp_path, "completion")[1]["version"] == second
    with pytest.raises(NotFound):
        registry.set_active(tmp_path, "completion", "no-such-version")
    (tmp_path / "active.yaml").write_text("completion: [1, 2]\n")
    with pytest.raises(InvalidInput, match="active"):
        registry.load(tmp_path, "completion")


def test_no_active_model_is_a_clear_not_found(tmp_path):
    with pytest.raises(NotFound, match="arrears model train"):
        registry.load(tmp_path, "early_warning")


@pytest.mark.parametrize("tamper", ["manifest_hash", "model_hash", "renamed_feature"])
def test_a_model_not_matching_the_feature_schema_is_refused(tmp_path, model, tamper):
    version = _save(tmp_path, model)
    folder = tmp_path / "completion" / version
    manifest, data = (json.loads((folder / n).read_text()) for n in ("manifest.json", "model.json"))
    if tamper == "manifest_hash":
        manifest["schema_hash"] = "0" * 16
    elif tamper == "model_hash":
        data["schema_hash"] = "0" * 16
    else:  # same hash written, but the bins are of another feature
        data["bins"][0]["name"] = "region_code"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "model.json").write_text(json.dumps(data))
    with pytest.raises(Conflict) as refused:
        registry.load(tmp_path, "completion")
    assert refused.value.rule == "feature_schema"


def test_an_unreadable_model_file_is_refused(tmp_path, model):
    version = _save(tmp_path, model)
    (tmp_path / "completion" / version / "model.json").write_text("{not json")
    with pytest.raises(InvalidInput):
        registry.load(tmp_path, "completion")


def test_trained_completion_model_gives_a_decimal_that_rises_with_relief(tmp_path, model):
    _save(tmp_path, model)
    scorer = TrainedCompletionModel.load(tmp_path)
    base = {"plan_term": 12, "waiver_share": Decimal("0.05"), "burden": Decimal("0.9"),
            "dpd_at_restructuring": 60, "product_code": "consumer_loan"}
    low = scorer.probability({**base, "payment_relief": Decimal("0")})
    high = scorer.probability(CompletionFeatures(payment_relief=Decimal("0.5"), **base))
    assert isinstance(low, Decimal) and Decimal(0) < low < high < Decimal(1)
    assert low.as_tuple().exponent == -6
    assert "payment_relief" in scorer.reasons({**base, "payment_relief": Decimal("0")})
    # malformed or missing values are scored (the missing bin), never raised
    odd = scorer.probability({"payment_relief": "n/a", "plan_term": None})
    assert Decimal(0) < odd < Decimal(1)


def test_plan_features_are_exact_ratios_of_fen():
    debt = Amounts(principal=900_000, interest=60_000, penalty=40_000)
    schedule = tuple(PlanInstalment(k, date(2024, 1 + k, 1), Amounts(principal=300_000, interest=20_000))
                     for k in (1, 2, 3))
    plan = Plan("waiver", 1, date(2024, 1, 1), debt, schedule, waiver=Amounts(penalty=40_000)).check()
    f = plan_features(plan, old_payment_fen=400_000, dpd=75, product_code="consumer_loan")
    assert f == CompletionFeatures(Decimal("0.2"), 3, Decimal("0.04"), Decimal("0.8"), 75, "consumer_loan")
    with pytest.raises(ValueError):
        plan_features(plan, old_payment_fen=0, dpd=75, product_code="consumer_loan")


from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@given(old=st.integers(1, 10**9), cut=st.integers(0, 10**9), waived=st.integers(0, 10**8), dpd=st.integers(0, 3000))
def test_plan_feature_ratios_are_exact_decimals_of_fen(old, cut, waived, dpd):
    first = max(1, old - cut)
    debt = Amounts(principal=first * 2, penalty=waived)
    schedule = (PlanInstalment(1, date(2024, 2, 1), Amounts(principal=first)),
                PlanInstalment(2, date(2024, 3, 1), Amounts(principal=first)))
    plan = Plan("waiver", 1, date(2024, 1, 1), debt, schedule, waiver=Amounts(penalty=waived)).check()
    f = plan_features(plan, old_payment_fen=old, dpd=dpd, product_code="consumer_loan")
    six = Decimal("0.000001")
    assert f.payment_relief == (1 - Decimal(first) / Decimal(old)).quantize(six)
    assert f.burden == (Decimal(first) / Decimal(old)).quantize(six)
    assert f.waiver_share == (Decimal(waived) / Decimal(first * 2 + waived)).quantize(six)
    assert f.payment_relief + f.burden in (Decimal(1), Decimal(1) + six, Decimal(1) - six)

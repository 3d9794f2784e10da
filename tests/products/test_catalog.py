import shutil
from pathlib import Path

import pytest
import yaml

from arrears.products.catalog import PACKAGED, PolicyError, load_catalog

KINDS = {"credit_card", "consumer_loan", "internet_loan", "inclusive_loan", "micro_business_loan"}


def test_packaged_catalogue_has_every_required_product_kind():
    cat = load_catalog()
    assert {p.kind for p in cat.products.values()} >= KINDS
    for product in cat.products.values():
        assert product.compliance_profile in {"cn-bank", "cn-internet", "us-regf"}
        assert product.buckets in cat.buckets and product.classification in cat.classifications


def test_seed_tiers_and_classification_levels():
    cat = load_catalog()
    seed3 = cat.buckets["seed3"]
    assert [seed3.level_for(d).code for d in (0, 1, 30, 31, 60, 61, 400)] == \
        ["current", "mild", "mild", "moderate", "moderate", "severe", "severe"]
    cls = cat.classifications["cbirc2023"]
    assert [cls.level_for(d).name_zh for d in (0, 1, 90, 91, 270, 271, 360, 361)] == \
        ["正常", "关注", "关注", "次级", "次级", "可疑", "可疑", "损失"]


def test_every_legal_number_carries_a_source():
    raw = yaml.safe_load((PACKAGED / "legal.yaml").read_text(encoding="utf-8"))
    assert raw and all(entry.get("source") for entry in raw.values())


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    target = tmp_path / "policy"
    shutil.copytree(PACKAGED, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def _edit(path: Path, **changes) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split("__")
        for key in parents:
            node = node[key]
        node[last] = value
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


@pytest.mark.parametrize(("changes", "message"), [
    ({"penalty__markup": "0.80"}, "penalty.markup 0.80 outside 0.30–0.50"),
    ({"buckets": "nope"}, "unknown scheme 'nope'"),
    ({"rounding": "banker"}, "rounding"),
    ({"allocation__order": ["cost", "fee", "interest", "principal"]}, "allocation.order"),
    ({"grace_days": -1}, "grace_days"),
    ({"repayment_methods": ["weekly"]}, "repayment_methods"),
])
def test_bad_product_files_name_the_file_and_field(policy_dir, changes, message):
    _edit(policy_dir / "catalog" / "consumer_loan.yaml", **changes)
    with pytest.raises(PolicyError) as exc:
        load_catalog(policy_dir)
    assert "consumer_loan.yaml" in str(exc.value) and message in str(exc.value)


def test_personalised_instalment_cannot_exceed_the_legal_sixty_periods(policy_dir):
    _edit(policy_dir / "catalog" / "credit_card.yaml", restructuring__max_periods=72)
    with pytest.raises(PolicyError, match="exceeds 60"):
        load_catalog(policy_dir)


def test_an_institution_can_correct_a_legal_number(policy_dir):
    _edit(policy_dir / "legal.yaml", penalty_markup__max="0.80")
    _edit(policy_dir / "catalog" / "consumer_loan.yaml", penalty__markup="0.80")
    assert str(load_catalog(policy_dir).product("consumer_loan").penalty.markup) == "0.80"

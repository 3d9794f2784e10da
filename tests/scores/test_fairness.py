"""The feature allow-list: every feature described, none a protected attribute or a proxy for one, and the
feature SQL reads no borrower record (where names, ID numbers, region codes live)."""

import re
from datetime import date

import pytest

from arrears.scores import features as features_module
from arrears.scores.catalog import KINDS, FeatureCatalog, feature_catalog
from arrears.scores.features import FEATURES_SQL, SOURCES, build_features, points_for

REQUIRED_FORBIDDEN = {"ethnic", "religio", "gender", "sex", "age", "birth", "region", "id_number", "民族", "宗教",
                      "性别", "籍贯", "身份证"}
BOOK_COLUMNS = {"loan_id", "as_of", "active", "source_max_date"}  # keys and bookkeeping, not model inputs


def protected_hits(catalog: FeatureCatalog) -> list[str]:
    """Features (of the scores and of the public data sets) whose name contains a forbidden term, or whose
    description uses one as a word (English) or anywhere (Chinese)."""
    hits = []
    groups = [("features", catalog.features)] + [(f"datasets.{k}", d.features) for k, d in catalog.datasets.items()]
    for group, feats in groups:
        for name, f in feats.items():
            for term in catalog.forbidden:
                ascii_term = term.isascii()
                text = f"{f.en} {f.reason_en}".lower()
                in_text = re.search(rf"\b{re.escape(term)}\w*", text) if ascii_term else term in f"{f.zh}{f.reason_zh}"
                if term in name.lower() or in_text:
                    hits.append(f"{group}.{name}: {term}")
    return hits


def test_the_forbidden_list_covers_the_protected_attributes():
    assert REQUIRED_FORBIDDEN <= set(feature_catalog().forbidden)


def test_no_feature_is_a_protected_attribute_or_proxy():
    assert protected_hits(feature_catalog()) == []


def test_the_check_catches_a_protected_feature():
    data = feature_catalog().model_dump()
    for name, text in (("gender_code", "sex of the borrower"), ("id_prefix", "ID-number region of birth"),
                       ("hometown", "籍贯")):
        bad = {**data, "features": {**data["features"], name: {
            "type": "categorical", "zh": text, "en": text, "reason_zh": text, "reason_en": text}}}
        assert protected_hits(FeatureCatalog.model_validate(bad)), name


def test_every_feature_is_described_and_every_score_uses_only_the_allow_list():
    catalog = feature_catalog()
    for kind in KINDS:
        for name, f in catalog.describe(kind).items():
            assert f.zh and f.en and f.reason_zh and f.reason_en, name
    bad = catalog.model_dump()
    bad["scores"]["early_warning"]["features"] = [*bad["scores"]["early_warning"]["features"], "region_code"]
    with pytest.raises(ValueError, match="not in the allow-list"):
        FeatureCatalog.model_validate(bad)


def test_the_feature_builder_reads_no_borrower_record_and_makes_only_allowed_columns():
    sql = " ".join([FEATURES_SQL, *(q for q, _ in features_module._SQL.values())]).lower()
    for word in ("borrowers", "region_code", "id_number", "name_enc", "address", "birth"):
        assert word not in sql, word
    assert "borrower_id" not in {f.name for schema in SOURCES.values() for f in schema}
    empty = {k: s.empty_table() for k, s in SOURCES.items()}
    columns = set(build_features(empty, points_for([], date(2024, 1, 1))).column_names)
    assert columns - BOOK_COLUMNS <= set(feature_catalog().features)
    # every feature a portfolio score uses is made by the builder
    for kind in ("early_warning", "propensity"):
        assert set(feature_catalog().spec(kind).features) <= columns


def test_the_scores_table_has_no_personal_columns():
    from arrears.scores.tables import Score

    assert {c.name for c in Score.__table__.columns} == {"id", "loan_id", "kind", "as_of", "probability", "reasons",
                                                          "model_version", "created_at"}

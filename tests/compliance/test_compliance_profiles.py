"""Profiles load, carry their sources, and refuse bad files naming the file and the field."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from arrears.compliance.model import ContactRequest
from arrears.compliance.policy import PACKAGED, load_profiles, packaged_profiles
from arrears.errors import InvalidInput
from arrears.products.catalog import PolicyError, load_catalog


def test_the_three_profiles_with_their_numbers():
    profiles = load_profiles()
    assert set(profiles) == {"cn-bank", "cn-internet", "us-regf"}
    bank, internet, us = (profiles[c].spec for c in ("cn-bank", "cn-internet", "us-regf"))
    assert [(w.start, w.end) for w in bank.quiet_hours.windows] == [("22:00", "08:00")]
    assert [(w.start, w.end) for w in us.quiet_hours.windows] == [("21:00", "08:00")]
    assert [(c.rule, c.limit, c.days, c.per_method) for c in bank.caps] == \
        [("daily_cap.unanswered_per_method", 6, 1, True)]
    assert [(c.rule, c.limit, c.agencies) for c in internet.caps] == [("daily_cap.connected_calls", 3, "together")]
    assert [(c.rule, c.limit, c.days, c.scope) for c in us.caps] == \
        [("rolling_cap.calls_7_days", 7, 7, "debt"), ("cooldown.after_conversation", 1, 7, "debt")]
    assert bank.third_party.after_failed_contacts == 3 and not internet.third_party.allowed
    assert us.third_party.max_contacts_per_person == 1


def test_every_product_names_a_profile_that_exists():
    profiles = packaged_profiles()
    assert {p.compliance_profile for p in load_catalog().products.values()} <= set(profiles)


def test_every_rule_carries_a_source():
    for path in [PACKAGED / "forbidden.yaml", *sorted((PACKAGED / "profiles").glob("*.yaml"))]:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        sections = [data, data.get("quiet_hours"), data.get("third_party"), *data.get("caps", []),
                    *data.get("freezes", {}).values(), data.get("third_party_disclosure"), *data.get("content", []),
                    data.get("amounts")]
        for section in filter(None, sections):
            assert section["source"] and section["verified"] in {"primary", "secondary", "unverified"}, path


def test_rule_order_is_documented_order():
    names = packaged_profiles()["cn-bank"].rule_names
    assert names[:3] == ["do_not_contact", "open_complaint", "collection_stopped"]
    assert names.index("third_party.disclosure") < names.index("content.threat") < names.index("quiet_hours")
    assert names[-1] == "daily_cap.unanswered_per_method"


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    target = tmp_path / "compliance"
    shutil.copytree(PACKAGED, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def _edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


@pytest.mark.parametrize(("file", "change", "expected"), [
    ("profiles/cn-bank.yaml", lambda d: d["quiet_hours"]["windows"].append({"start": "06:00", "end": "09:00"}),
     "quiet_hours: Value error, windows 0 and 1 overlap"),
    ("profiles/cn-bank.yaml", lambda d: d["quiet_hours"]["windows"][0].update(start="25:00"),
     "quiet_hours.windows.0.start"),
    ("profiles/cn-bank.yaml", lambda d: d["quiet_hours"]["windows"][0].update(end="22:00"),
     "start and end are equal"),
    ("profiles/cn-bank.yaml", lambda d: d["caps"][0]["methods"].append("fax"), "caps.0.methods.5"),
    ("profiles/cn-bank.yaml", lambda d: d["quiet_hours"]["methods"].append("pigeon"), "quiet_hours.methods.5"),
    ("profiles/cn-bank.yaml", lambda d: d["caps"][0].pop("source"), "caps.0.source: Field required"),
    ("profiles/us-regf.yaml", lambda d: d["third_party"].pop("verified"), "third_party.verified: Field required"),
    ("profiles/cn-bank.yaml", lambda d: d["caps"][0].update(days=2), "a daily_cap has days: 1"),
    ("profiles/cn-bank.yaml", lambda d: d["caps"][0]["outcomes"].append("maybe"), "caps.0.outcomes"),
    ("profiles/cn-bank.yaml", lambda d: d.update(code="cn-other"), "code: 'cn-other' must match"),
    ("forbidden.yaml", lambda d: d["content"][0]["patterns"].append("[0-9]+\\d"), "content.0.patterns"),
    ("forbidden.yaml", lambda d: d["content"][1]["patterns"].append("(?=x)y"), "not a usable regular expression"),
    ("forbidden.yaml", lambda d: d["freezes"].pop("open_complaint"), "freezes"),
    ("forbidden.yaml", lambda d: d["amounts"].pop("source"), "amounts.source: Field required"),
])
def test_bad_files_name_file_and_field(policy, file, change, expected):
    _edit(policy / file, change)
    with pytest.raises(PolicyError) as raised:
        load_profiles(policy)
    assert file.split("/")[-1] in str(raised.value) and expected in str(raised.value)


def test_requests_refuse_naive_times_unknown_zones_and_anonymous_third_parties():
    fields = {"case_id": 1, "loan_id": 1, "borrower_id": 1, "borrower_tz": "Asia/Shanghai", "method": "call",
              "party": "debtor", "purpose": "collect", "at": datetime(2026, 3, 2, 10)}
    with pytest.raises(InvalidInput, match="timezone-aware"):
        ContactRequest(**fields)
    aware = datetime.fromisoformat("2026-03-02T10:00:00+08:00")
    with pytest.raises(InvalidInput, match="unknown time zone"):
        ContactRequest(**{**fields, "at": aware, "borrower_tz": "Mars/Olympus"})
    with pytest.raises(InvalidInput, match="third party"):
        ContactRequest(**{**fields, "at": aware, "party": "third_party"})
    with pytest.raises(InvalidInput, match="unknown method"):
        ContactRequest(**{**fields, "at": aware, "method": "fax"})

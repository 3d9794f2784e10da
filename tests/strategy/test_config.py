"""Loading strategy rules: the packaged file loads; bad input is refused at load naming the file, the rule and
the field (unknown template, channel, stage, team, template variable, a move the lifecycle does not allow)."""

import pytest

from arrears.products.catalog import PolicyError
from arrears.strategy.config import load_strategy
from strategy_helpers import write_rules


def test_the_packaged_rules_load_with_one_champion_and_a_challenger():
    config = load_strategy()
    assert config.champion.name == "standard"
    assert [s.name for s in config.challengers] == ["early_call"]
    assert 0 < config.challengers[0].share_bp < 10_000


def _one(tmp_path, rule: dict, **top):
    return write_rules(tmp_path, [{"name": "solo", "role": "champion", "rules": [rule]}], **top)


@pytest.mark.parametrize(("rule", "needle"), [
    ({"name": "r1", "actions": [{"do": "send", "template": "no_such", "channel": "sms"}]},
     "unknown template 'no_such'"),
    ({"name": "r1", "actions": [{"do": "send", "template": "overdue_notice", "channel": "fax"}]},
     "unknown channel 'fax'"),
    ({"name": "r1", "actions": [{"do": "send", "template": "one_time_code", "channel": "letter"}]},
     "is not sent by letter"),
    ({"name": "r1", "when": {"stages": ["jail"]}, "actions": []}, "unknown stage 'jail'"),
    ({"name": "r1", "when": {"stages": ["phone"]}, "actions": [{"do": "escalate", "to": "prison"}]},
     "unknown stage 'prison'"),
    ({"name": "r1", "when": {"stages": ["preparation", "phone"]}, "actions": [{"do": "escalate", "to": "legal"}]},
     "does not allow preparation → legal"),
    ({"name": "r1", "actions": [{"do": "escalate", "to": "phone"}]}, "must name the stages"),
    ({"name": "r1", "actions": [{"do": "send", "template": "overdue_notice", "channel": "sms",
                                 "variables": {"mood": "loan_no"}}]}, "variables.mood: unknown variable"),
    ({"name": "r1", "actions": [{"do": "send", "template": "pre_due_reminder", "channel": "sms"}]},
     "needs 'instalment_no'"),
    ({"name": "r1", "actions": [{"do": "send", "template": "overdue_notice", "channel": "sms",
                                 "variables": {"days_overdue": "loan_no"}}]}, "fact 'loan_no' is text"),
    ({"name": "r1", "actions": [{"do": "call", "team": "ninjas"}]}, "unknown team 'ninjas'"),
    ({"name": "r1", "actions": [{"do": "call"}]}, "team: required"),
    ({"name": "r1", "actions": [{"do": "call", "team": "phone"}, {"do": "visit", "team": "field"}]},
     "at most one task"),
    ({"name": "r1", "when": {"products": ["yacht_loan"]}, "actions": []}, "unknown product 'yacht_loan'"),
    ({"name": "r1", "when": {"m_buckets": ["M99"]}, "actions": []}, "unknown m_bucket 'M99'"),
])
def test_bad_rules_are_refused_naming_the_rule_and_field(tmp_path, rule, needle):
    with pytest.raises(PolicyError) as caught:
        load_strategy(_one(tmp_path, rule))
    message = str(caught.value)
    assert needle in message and "rules[0] (r1)" in message and "rules.yaml" in message


@pytest.mark.parametrize(("rule", "needle"), [
    ({"name": "r1", "when": {"dpd": {"min": 30, "max": 10}}, "actions": []}, "min 30 is above max 10"),
    ({"name": "r1", "when": {"flags": {"vip": True}}, "actions": []}, "vip"),
    ({"name": "r1", "when": {"events": ["birthday"]}, "actions": []}, "events.0"),
    ({"name": "R-1", "actions": []}, "name"),
])
def test_shape_errors_name_the_field(tmp_path, rule, needle):
    with pytest.raises(PolicyError) as caught:
        load_strategy(_one(tmp_path, rule))
    assert needle in str(caught.value) and "strategies.0.rules.0" in str(caught.value)


def test_arms_need_one_champion_and_shares_within_the_whole(tmp_path):
    rule = {"name": "r1", "actions": []}
    with pytest.raises(PolicyError, match="exactly one champion"):
        load_strategy(write_rules(tmp_path, [{"name": "a", "role": "challenger", "share_bp": 10, "rules": [rule]}]))
    with pytest.raises(PolicyError, match="more than 10000"):
        load_strategy(write_rules(tmp_path, [
            {"name": "a", "role": "champion", "rules": [rule]},
            {"name": "b", "role": "challenger", "share_bp": 6000, "rules": [rule]},
            {"name": "c", "role": "challenger", "share_bp": 6000, "rules": [rule]}]))
    with pytest.raises(PolicyError, match="duplicate rule name"):
        load_strategy(write_rules(tmp_path, [{"name": "a", "role": "champion", "rules": [rule, rule]}]))

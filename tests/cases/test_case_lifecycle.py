"""The case lifecycle YAML: validation names file and field, can_move, and docs/cases.md is current."""

from pathlib import Path

import pytest
import yaml

from arrears.cases.model import (
    DOC_BEGIN,
    DOC_END,
    PACKAGED,
    can_move,
    doc_block,
    lifecycle,
    load_lifecycle,
    mermaid,
)
from arrears.products.catalog import PolicyError

DOC = Path(__file__).resolve().parents[2] / "docs" / "cases.md"


def _write(tmp_path, change) -> Path:
    data = yaml.safe_load(PACKAGED.read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "lifecycle.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_the_packaged_lifecycle_has_the_seed_stages_and_close_reasons():
    lc = lifecycle()
    assert lc.stage_codes == ("preparation", "reminder", "phone", "field_visit", "legal", "enforcement")
    assert [s.name_zh for s in lc.stages] == ["前期准备", "提醒通知", "电话催收", "上门", "法律诉讼", "执行"]
    assert set(lc.close_codes) == {"cured", "paid", "settled", "agreement_in_force", "transferred",
                                   "written_off", "moved_to_legal"}
    assert lc.initial == "preparation" and lc.stage("preparation").next_action == "confirm overdue facts and plan"
    # Every next action reads in both languages (the case stores the English; pages show the page's language).
    assert [s.action.name_zh for s in lc.stages][:2] == ["核实逾期事实并制定方案", "发送提醒通知"]
    assert all(s.action.name_en == s.next_action and s.next_action_zh for s in lc.stages)


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["transitions"].append({"from": "phone", "to": "jail"}), "transitions[8].to: unknown stage 'jail'"),
    (lambda d: d["transitions"].append({"from": "ghost", "to": "phone"}), "transitions[8].from: unknown stage"),
    (lambda d: d["stages"].append(dict(d["stages"][1])), "stages[6].code: duplicate 'reminder'"),
    (lambda d: d["close_reasons"].append({"code": "paid", "name_zh": "x", "name_en": "x"}),
     "close_reasons[7].code: duplicate 'paid'"),
    (lambda d: d["transitions"].append(dict(d["transitions"][0])), "transitions[8]: duplicate transition"),
    (lambda d: d.update(transitions=[t for t in d["transitions"] if t["to"] != "enforcement"]),
     "stages[5].code: stage 'enforcement' cannot be reached from 'preparation'"),
    (lambda d: d.update(initial="nowhere"), "initial: unknown stage 'nowhere'"),
    (lambda d: d["stages"][0].pop("name_en"), "stages.0.name_en: Field required"),
    (lambda d: d["stages"][1].pop("next_action_zh"), "stages.1.next_action_zh: Field required"),
])
def test_a_bad_lifecycle_is_refused_naming_file_and_field(tmp_path, change, message):
    path = _write(tmp_path, change)
    with pytest.raises(PolicyError) as exc:
        load_lifecycle(path)
    assert str(path) in str(exc.value) and message in str(exc.value)


def test_can_move_follows_the_yaml():
    assert can_move("preparation", "reminder")
    assert can_move("phone", "legal") and can_move("phone", "reminder")
    assert not can_move("preparation", "legal")
    assert not can_move("enforcement", "preparation")
    assert not can_move("phone", "phone")
    assert not can_move("phone", "unknown")


def test_the_diagram_covers_every_stage_and_move():
    text = mermaid()
    assert text.startswith("stateDiagram-v2\n    [*] --> preparation")
    assert 'state "上门 / Field visit" as field_visit' in text
    assert all(f"{m.from_} --> {m.to}" in text for m in lifecycle().transitions)


def test_the_doc_diagram_is_current():
    doc = DOC.read_text(encoding="utf-8")
    block = DOC_BEGIN + doc.split(DOC_BEGIN, 1)[1].split(DOC_END, 1)[0] + DOC_END
    assert block == doc_block(), "docs/cases.md is stale: run python -m arrears.cases.model docs/cases.md"

"""Templates: every one renders in Chinese and English on each of its channels; bad variables are refused at
render and at load; rendered text must pass the compliance content rules."""

from __future__ import annotations

import shutil

import pytest
from contact_helpers import OVERDUE

from arrears.contact.templates import PACKAGED, SAMPLES, TemplateCatalog, TemplateLoadError, catalog
from arrears.errors import InvalidInput


def _copy(tmp_path):
    folder = tmp_path / "templates"
    shutil.copytree(PACKAGED, folder)
    return folder


def test_every_template_renders_in_both_languages_on_each_channel():
    book = catalog()
    for name, spec in book.specs.items():
        sample = {var: SAMPLES[kind] for var, kind in spec.variables.items()}
        for language in ("zh-CN", "en"):
            for channel in spec.channels:
                r = book.render(name, language=language, channel=channel, variables=sample)
                assert r.subject and r.body and "\n" not in r.subject
                assert ("样例" in r.body or "7" in r.body) and "{{" not in r.body


def test_overdue_notice_states_what_the_domain_requires():
    r = catalog().render("overdue_notice", language=None, channel="email", variables=OVERDUE)
    assert r.language == "zh-CN"  # Chinese first
    for part in ("612.34 元", "12.34 元", "2026年2月5日", "逾期 33 天", "罚息", "征信", "手机银行", "投诉热线",
                 "400-000-0001", "您有权与我们协商", "12378"):
        assert part in r.body, part
    sms = catalog().render("overdue_notice", language="zh", channel="sms", variables=OVERDUE)
    assert "612.34 元" in sms.body and "投诉热线" in sms.body and len(sms.body) < len(r.body)
    en = catalog().render("overdue_notice", language="en-US", channel="letter", variables=OVERDUE)
    assert "CNY 612.34" in en.body and "5 February 2026" in en.body and "right to negotiate" in en.body
    assert repr(r) == "Rendered('overdue_notice', 'zh-CN', 'email')"  # no personal data in a repr


@pytest.mark.parametrize(("variables", "rule", "field"), [
    ({k: v for k, v in OVERDUE.items() if k != "penalty_fen"}, "template.missing_variable", "variables.penalty_fen"),
    ({**OVERDUE, "threat_level": 3}, "template.unknown_variable", "variables.threat_level"),
    ({**OVERDUE, "amount_owed_fen": "612.34"}, "template.variable_type", "variables.amount_owed_fen"),
    ({**OVERDUE, "due_on": "2026-02-05"}, "template.variable_type", "variables.due_on"),
    ({**OVERDUE, "penalty_fen": True}, "template.variable_type", "variables.penalty_fen"),
])
def test_bad_variables_are_refused_at_render(variables, rule, field):
    with pytest.raises(InvalidInput) as exc:
        catalog().render("overdue_notice", language="zh-CN", channel="sms", variables=variables)
    assert exc.value.rule == rule and exc.value.field == field


def test_unknown_template_channel_and_language():
    book = catalog()
    with pytest.raises(InvalidInput, match="unknown template"):
        book.render("final_warning", language="zh", channel="sms", variables={})
    with pytest.raises(InvalidInput) as exc:
        book.render("one_time_code", language="zh", channel="letter", variables={"code": "1", "valid_minutes": 5})
    assert exc.value.rule == "template.channel"
    with pytest.raises(InvalidInput) as exc:
        book.render("one_time_code", language="fr", channel="sms", variables={"code": "1", "valid_minutes": 5})
    assert exc.value.rule == "template.language"


@pytest.mark.parametrize(("name", "rule"), [("老赖", "content.insult"), ("法院的工作人员", "content.impersonation")])
def test_a_variable_that_breaks_a_content_rule_is_refused(name, rule):
    with pytest.raises(InvalidInput) as exc:
        catalog().render("overdue_notice", language="zh-CN", channel="sms", variables={**OVERDUE, "borrower_name": name})
    assert exc.value.rule == rule and rule in exc.value.detail and name not in exc.value.detail


def test_every_stated_amount_must_be_one_passed_in():
    from arrears.compliance.policy import packaged_profiles
    from arrears.contact.templates import check_content

    profile = packaged_profiles()["cn-bank"]
    check_content(profile, "应还 612.34 元,其中罚息 12.34 元", [61_234, 1_234])
    with pytest.raises(InvalidInput) as exc:
        check_content(profile, "应还 612.34 元,另需 5,000 元", [61_234])
    assert exc.value.rule == "content.false_amount"


def _edit(folder, file: str, old: str, new: str) -> None:
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_packaged_folder_loads(tmp_path):
    assert set(TemplateCatalog(_copy(tmp_path)).specs) == set(catalog().specs)


@pytest.mark.parametrize(("file", "old", "new", "message"), [
    ("overdue_notice.zh-CN.txt", "{{ loan_no }}", "{{ loan_number }}", "undeclared variable(s) ['loan_number']"),
    ("overdue_notice.en.txt", "{{ institution.hotline }}", "{{ institution.hot_line }}", "sample rendering fails"),
    ("overdue_notice.zh-CN.txt", "如您已还款", "逾期不还后果自负。如您已还款", "content.threat"),
    ("pre_due_reminder.en.txt", "If you have already paid", "A fee of CNY 50.00 applies. If you have already paid",
     "content.false_amount"),
    ("one_time_code.en.txt", "{{ code }}", "{{ code | yuan }}", "sample rendering fails"),
    ("promise_confirmation.zh-CN.txt", "{% endblock %}", "{% endblok %}", "promise_confirmation.zh-CN.txt"),
])
def test_broken_templates_fail_to_load_naming_the_file(tmp_path, file, old, new, message):
    folder = _copy(tmp_path)
    _edit(folder, file, old, new)
    with pytest.raises(TemplateLoadError) as exc:
        TemplateCatalog(folder)
    assert file in str(exc.value) and message in str(exc.value)


def test_a_missing_language_or_a_stray_file_fails_to_load(tmp_path):
    folder = _copy(tmp_path)
    (folder / "overdue_notice.en.txt").unlink()
    with pytest.raises(TemplateLoadError, match="overdue_notice.en.txt: missing"):
        TemplateCatalog(folder)
    folder = _copy(tmp_path / "again")
    (folder / "old_notice.zh-CN.txt").write_text("{% block subject %}x{% endblock %}", encoding="utf-8")
    with pytest.raises(TemplateLoadError, match="old_notice.zh-CN.txt"):
        TemplateCatalog(folder)


def test_rendering_is_strict_about_undefined_names():
    import jinja2

    book = catalog()
    assert book.env.undefined is jinja2.StrictUndefined
    with pytest.raises(jinja2.UndefinedError):
        book.env.from_string("{{ institution.name }}{{ nobody }}").render(institution={"name": "x"})
    with pytest.raises(jinja2.UndefinedError):
        book.env.from_string("{{ institution.fax }}").render(institution={"name": "x"})

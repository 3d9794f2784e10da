"""The form fields of the legal desk's pages: amounts in yuan text round-trip to fen exactly, anything else is
refused with the rule named; dates and whole numbers likewise (pure: no database)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from arrears.errors import Conflict, InvalidInput
from arrears.loans.schemas import MAX_AMOUNT_FEN
from arrears.money import format_yuan
from arrears.web.legal_desk.common import Form


def _amount(text: str, **kw) -> tuple[int, dict]:
    form = Form("f", {"x": text})
    return form.amount("x", **kw), form.errors


@given(st.integers(min_value=1, max_value=MAX_AMOUNT_FEN))
def test_any_amount_shown_in_yuan_is_read_back_to_the_same_fen(fen):
    assert _amount(format_yuan(fen)) == (fen, {})
    assert _amount(format_yuan(fen).replace(",", "")) == (fen, {})


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=999))
def test_more_than_two_decimals_is_refused(whole, thousandths):
    assert _amount(f"{whole}.{thousandths:03d}")[1] == {"x": "amount_format"}


@given(st.integers(min_value=1, max_value=10**12))
def test_negative_amounts_are_refused_and_zero_only_where_allowed(fen):
    assert _amount(f"-{format_yuan(fen)}")[1] == {"x": "amount_positive"}
    assert _amount(f"-{format_yuan(fen)}", positive=False)[1] == {"x": "amount_negative"}
    assert _amount("0")[1] == {"x": "amount_positive"} and _amount("0", positive=False) == (0, {})


def test_other_text_dates_and_limits():
    assert _amount("abc")[1] == {"x": "amount_format"} and _amount("1e3")[1] == {"x": "amount_format"}
    assert _amount(format_yuan(MAX_AMOUNT_FEN + 1))[1] == {"x": "amount_too_large"}
    assert _amount("", required=False) == (0, {}) and _amount("  ")[1] == {"x": "required"}
    form = Form("f", {"d": "2024-02-30", "n": "366", "t": "x" * 11})
    assert form.day("d") is None and form.whole("n", 0, 365) is None and form.text("t", 10) == "x" * 11
    assert form.errors == {"d": "date_format", "n": "whole_number", "t": "too_long"}


def test_a_service_refusal_lands_next_to_its_field_or_on_the_form():
    form = Form("f", {"claim": "1", "version": "3"})
    assert form.refused_by(InvalidInput("no", field="claim_fen", rule="legal.amount"), {"claim_fen": "claim"}) == 422
    assert form.refused_by(Conflict("stale", field="expected_version", rule="legal_case.version")) == 409
    assert form.refused_by(Conflict("guard", field="case_id", rule="open_complaint")) == 409
    assert form.errors == {"claim": "legal.amount", "version": "legal_case.version", "form": "open_complaint"}

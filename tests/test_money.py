from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arrears.money import (
    MoneyError, apply_rate, fen, fen_to_yuan, format_yuan, rate, round_fen, yuan_to_fen,
)


@pytest.mark.parametrize(("value", "mode", "expected"), [
    (Decimal("2.5"), "half_up", 3), (Decimal("2.5"), "half_even", 2), (Decimal("2.5"), "down", 2),
    (Decimal("2.1"), "up", 3), (Decimal("-2.5"), "half_up", -3), (Decimal("3.5"), "half_even", 4),
])
def test_round_fen_modes(value, mode, expected):
    assert round_fen(value, mode) == expected


def test_floats_are_refused_everywhere():
    with pytest.raises(MoneyError):
        yuan_to_fen(1.1)  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        round_fen(2.5)  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        rate(0.0435)  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        fen(True)


@pytest.mark.parametrize("text", ["1.234", "abc", "", "1e5", "--1", "1,23.00"])
def test_bad_yuan_text_is_refused(text):
    with pytest.raises(MoneyError):
        yuan_to_fen(text)


def test_yuan_parsing_and_display():
    assert yuan_to_fen("1,234.56") == 123456
    assert yuan_to_fen("0.1") == 10
    assert yuan_to_fen(Decimal("12")) == 1200
    assert format_yuan(123456) == "1,234.56"
    assert format_yuan(-5) == "-0.05"
    assert fen_to_yuan(1) == Decimal("0.01")
    assert rate("4.35%") == Decimal("0.0435")
    assert apply_rate(100_000, Decimal("0.0435") / 12) == 363  # 362.5 rounds half-up


def test_unknown_rounding_mode_names_the_modes():
    with pytest.raises(MoneyError, match="half_up"):
        round_fen(Decimal("1.5"), "banker")


@given(st.integers(min_value=-10**15, max_value=10**15))
def test_fen_to_yuan_text_round_trips(amount):
    assert yuan_to_fen(format_yuan(amount)) == amount
    assert yuan_to_fen(fen_to_yuan(amount)) == amount


@given(st.decimals(min_value=-10**12, max_value=10**12, allow_nan=False, allow_infinity=False, places=6),
       st.sampled_from(["half_up", "half_even", "down", "up"]))
def test_round_fen_is_within_one_fen_and_integral(value, mode):
    result = round_fen(value, mode)
    assert isinstance(result, int)
    assert abs(Decimal(result) - value) < 1
    if mode == "half_up":
        assert abs(Decimal(result) - value) <= Decimal("0.5")

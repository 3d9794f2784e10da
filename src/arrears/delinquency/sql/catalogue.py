"""The small tables the engine's SQL joins in, prepared in Python from the catalogue (docs/eod.md).

Every rate becomes an exact integer ratio here, once per distinct (product, annual_rate) of the portfolio —
a loop over products and rates, never over loans. Ratios travel as decimal text (they may exceed int64) and
are cast to HUGEINT in SQL.

- ``eod_params``: one row per distinct (product_code, annual_rate): grace, holiday rule, penalty kind and the
  penalty, card-fee and cap ratios, rounding mode.
- ``eod_grades``: per product and ``dpd_key`` = min(dpd, ``top``): the bucket and classification level indexes,
  the restructuring floors (level indexes), and the bucket, tier and m_bucket as name numbers;
- ``eod_levels``: per product, the bucket and classification levels by index, with their code and name number;
- ``eod_names``: every product and level code by its number (``names``). The SQL carries numbers, not strings,
  from the grades to the outputs; ``engine.decode_snapshot`` turns the snapshot's numbers back into codes.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from math import gcd

import pyarrow as pa

from arrears.errors import InvalidInput
from arrears.loans.schedules import decimal_ratio
from arrears.loans.schedules_sql import MODE_CODES
from arrears.products.catalog import Catalog, Scheme
from arrears.products.model import Product

KIND_CODES = {"none": 0, "rate_markup": 1, "card_default_fee": 2}
TIER_SCHEME, M_SCHEME = "seed3", "m_buckets"

PARAMS = pa.schema([
    ("product_code", pa.string()), ("annual_rate", pa.string()), ("pid", pa.int32()), ("known", pa.bool_()),
    ("prod_no", pa.int32()), ("g", pa.int32()), ("nbd", pa.bool_()), ("kind", pa.int32()),
    ("compound", pa.bool_()), ("mode", pa.int32()), ("pen_num", pa.string()), ("pen_den", pa.string()),
    ("fee_num", pa.string()), ("fee_den", pa.string()), ("has_cap", pa.bool_()), ("cap_num", pa.string()),
    ("cap_den", pa.string()),
])
GRADES = pa.schema([
    ("prod_no", pa.int32()), ("dpd_key", pa.int32()), ("bucket_idx", pa.int32()), ("bucket_no", pa.int32()),
    ("tier_no", pa.int32()), ("m_no", pa.int32()), ("class_idx", pa.int32()), ("floor_obs_idx", pa.int32()),
    ("floor_miss_idx", pa.int32()),
])
LEVELS = pa.schema([("prod_no", pa.int32()), ("scheme", pa.string()), ("idx", pa.int32()), ("code", pa.string()),
                    ("no", pa.int32())])
NAMES = pa.schema([("no", pa.int32()), ("name", pa.string())])


def reduced(num: int, den: int) -> tuple[int, int]:
    common = gcd(num, den) or 1
    return num // common, den // common


def _ratio(value: Decimal) -> tuple[int, int]:
    return reduced(*decimal_ratio(value))


def top_dpd(catalog: Catalog) -> int:
    """A dpd from which every scheme is at its last (open-ended) level: one past the largest finite bound."""
    bounds = [lv.max_dpd for s in (*catalog.buckets.values(), *catalog.classifications.values())
              for lv in s.levels if lv.max_dpd is not None]
    return max(bounds, default=0) + 1


def _parse_rate(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidInput(detail=f"annual rate {text!r} is not a decimal", field="annual_rate",
                           rule="decimal_rate") from None
    if not value.is_finite():
        raise InvalidInput(detail=f"annual rate {text!r} is not finite", field="annual_rate", rule="decimal_rate")
    return value


def _cap(product: Product, catalog: Catalog) -> Decimal | None:
    caps, legal, rates = product.penalty.caps, catalog.legal, []
    if caps.total_cost_annual is not None:
        rates.append(caps.total_cost_annual)
    if caps.lpr_multiple:
        rates.append(legal.private_lending_cap_lpr_multiple.multiple * legal.one_year_lpr.rate)
    return min(rates) if rates else None


def _param_row(pid: int, code: str, rate_text: str, prod_no: int, product: Product | None,
               catalog: Catalog) -> dict:
    row = {"product_code": code, "annual_rate": rate_text, "pid": pid, "known": product is not None,
           "prod_no": prod_no, "g": 0, "nbd": False, "kind": 0, "compound": False, "mode": 0,
           "pen_num": "0", "pen_den": "1", "fee_num": "0", "fee_den": "1", "has_cap": False,
           "cap_num": "0", "cap_den": "1"}
    if product is None:
        return row
    rule = product.penalty
    row.update(g=product.grace_days, nbd=product.holiday_rule == "next_business_day", kind=KIND_CODES[rule.kind],
               compound=rule.kind == "rate_markup" and rule.compound, mode=MODE_CODES[product.rounding])
    if rule.kind == "rate_markup":
        # P / B with P = annual_rate × (1 + markup), B the day basis: one exact ratio.
        rate_num, rate_den = _ratio(_parse_rate(rate_text))
        mk_num, mk_den = _ratio(rule.markup)  # type: ignore[arg-type]
        basis = 365 if product.interest_basis == "daily_365" else 360
        num, den = reduced(rate_num * (mk_den + mk_num), rate_den * mk_den * basis)
        row.update(pen_num=str(num), pen_den=str(den))
    elif rule.kind == "card_default_fee":
        num, den = _ratio(rule.default_fee_rate)  # type: ignore[arg-type]
        row.update(fee_num=str(num), fee_den=str(den))
    cap = _cap(product, catalog)
    if cap is not None:
        cap_num, cap_den = _ratio(cap)
        num, den = reduced(cap_num, cap_den * 365)  # C / 365: per day since disbursement
        row.update(has_cap=True, cap_num=str(num), cap_den=str(den))
    return row


def product_numbers(catalog: Catalog) -> dict[str, int]:
    return {code: no for no, code in enumerate(sorted(catalog.products))}


def names(catalog: Catalog) -> list[str]:
    """The product codes (numbered as ``product_numbers``), then every level code of the catalogue's schemes."""
    levels = {lv.code for s in (*catalog.buckets.values(), *catalog.classifications.values()) for lv in s.levels}
    return [*sorted(catalog.products), *sorted(levels - set(catalog.products))]


def names_table(catalog: Catalog) -> pa.Table:
    return pa.table({"no": pa.array(range(len(names(catalog))), pa.int32()), "name": names(catalog)}, schema=NAMES)


def params_table(pairs: list[tuple[str, str]], catalog: Catalog) -> pa.Table:
    """``eod_params`` for the distinct (product_code, annual_rate) pairs of the portfolio."""
    numbers = product_numbers(catalog)
    rows = [_param_row(pid, code, rate_text, numbers.get(code, -1), catalog.products.get(code), catalog)
            for pid, (code, rate_text) in enumerate(sorted(pairs))]
    return pa.Table.from_pylist(rows, schema=PARAMS)


def _codes(scheme: Scheme) -> list[str]:
    return [lv.code for lv in scheme.levels]


def grades_table(catalog: Catalog) -> pa.Table:
    """``eod_grades``: every product's levels for each dpd up to ``top_dpd`` (a loop over products × days)."""
    top, rules, rows = top_dpd(catalog), catalog.restructuring, []
    tier, m_buckets = catalog.buckets[TIER_SCHEME], catalog.buckets[M_SCHEME]
    number = {name: no for no, name in enumerate(names(catalog))}
    for code, no in product_numbers(catalog).items():
        product = catalog.products[code]
        buckets, classes = catalog.buckets[product.buckets], catalog.classifications[product.classification]
        bucket_codes, class_codes = _codes(buckets), _codes(classes)
        for dpd in range(top + 1):
            bucket = buckets.level_for(dpd).code
            rows.append({
                "prod_no": no, "dpd_key": dpd, "bucket_idx": bucket_codes.index(bucket), "bucket_no": number[bucket],
                "tier_no": number[tier.level_for(dpd).code], "m_no": number[m_buckets.level_for(dpd).code],
                "class_idx": class_codes.index(classes.level_for(dpd).code),
                "floor_obs_idx": class_codes.index(rules.floor_in_observation),
                "floor_miss_idx": class_codes.index(rules.floor_after_miss),
            })
    return pa.Table.from_pylist(rows, schema=GRADES)


def levels_table(catalog: Catalog) -> pa.Table:
    number = {name: no for no, name in enumerate(names(catalog))}
    rows = []
    for code, no in product_numbers(catalog).items():
        product = catalog.products[code]
        for scheme, levels in (("bucket", catalog.buckets[product.buckets]),
                               ("class", catalog.classifications[product.classification])):
            rows += [{"prod_no": no, "scheme": scheme, "idx": i, "code": c, "no": number[c]}
                     for i, c in enumerate(_codes(levels))]
    return pa.Table.from_pylist(rows, schema=LEVELS)

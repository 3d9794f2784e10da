"""``arrears bench negotiation``: plan options with recommendation for one case, timed (pure; no database).

The case is the seed's 小王 story at benchmark scale: an inclusive loan of 30,000 元 at 12%, 75 days past due,
ten periods left, with a household statement. Each run generates, values, explains and ranks every candidate.
"""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal

from arrears.bench.common import load_average_1m
from arrears.negotiation.affordability import Statement, assess
from arrears.negotiation.config import policy
from arrears.negotiation.options import generate_options
from arrears.negotiation.plan import Amounts
from arrears.negotiation.terms import DebtContext, baseline_payment
from arrears.products.catalog import catalog


def bench_case(product_code: str = "inclusive_loan") -> tuple[DebtContext, object]:
    cat = catalog()
    debt = Amounts(principal=3_000_000, interest=45_000, penalty=12_000, fee=5_000)
    ctx = DebtContext(1, date(2026, 3, 10), debt, Decimal("0.12"), cat.product(product_code), cat.legal,
                      remaining_periods=10, dpd=75, baseline_payment_fen=baseline_payment(debt, 10))
    a = assess(Statement(incomes={"unemployment_benefit": 180_000, "part_time": 300_000},
                         expenses={"housing": 150_000, "food": 120_000, "utilities": 20_000, "transport": 15_000},
                         dependants=1, region_code="330106", assets={"deposit": 500_000}))
    return ctx, a


def run_options_bench(runs: int = 200, product_code: str = "inclusive_loan") -> dict:
    ctx, a = bench_case(product_code)
    pol = policy()
    options = generate_options(ctx, a, pol)  # warm caches (annuity factors, due dates, policy)
    wall: list[int] = []
    cpu: list[int] = []  # this thread's CPU time: what the work costs when other processes share the cores
    for _ in range(runs):
        start, start_cpu = time.perf_counter_ns(), time.thread_time_ns()
        generate_options(ctx, a, pol)
        wall.append(time.perf_counter_ns() - start)
        cpu.append(time.thread_time_ns() - start_cpu)
    wall.sort()
    cpu.sort()

    def ms(times: list[int], q_num: int, q_den: int) -> float:
        """A percentile in milliseconds (a timing, not money)."""
        return round(times[min(len(times) - 1, len(times) * q_num // q_den)] / 1e6, 2)

    return {"options_p95_ms": ms(wall, 95, 100), "options_p50_ms": ms(wall, 50, 100),
            "options_cpu_p95_ms": ms(cpu, 95, 100), "candidates": len(options), "runs": runs,
            "product": product_code, "load_average_1m": load_average_1m()}

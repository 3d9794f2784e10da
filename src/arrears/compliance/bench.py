"""Guard benchmark: ``run_guard_bench(n)`` checks n synthetic requests in bulk and a sample one by one.

Figures: guard_bulk_per_s (requests per second through ``check_many``), guard_single_p99_ms (99th
percentile of one ``check``), plus the sizes. The portfolio is seeded, so runs are comparable; times are
wall-clock nanoseconds (``perf_counter_ns``), the one place here where a division gives a fraction.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from arrears.compliance.bulk import check_many, flags_table, history_table, requests_table
from arrears.compliance.guard import check
from arrears.compliance.model import (
    BorrowerFlags,
    ContactAttempt,
    ContactRequest,
    Method,
    Outcome,
    Party,
    Purpose,
)
from arrears.compliance.policy import packaged_profiles

START = datetime(2026, 3, 2, tzinfo=UTC)  # a fixed week: the benchmark never reads the clock
ZONES = {"cn-bank": "Asia/Shanghai", "cn-internet": "Asia/Shanghai", "us-regf": "America/New_York"}
TEXTS = ["您好,您的借款已逾期,请于今日归还{amount}元。", "尊敬的客户,本期应还{amount}元,如有困难请联系我们协商。",
         "Your payment of ${amount} is past due. Please call us.", "再不还{amount}元就上征信黑名单,通知你单位!",
         "请尽快还款{amount}元,否则后果自负。", None]


def portfolio(n: int, seed: int = 20260302) -> tuple[list[ContactRequest], list[str], list[ContactAttempt],
                                                    list[BorrowerFlags]]:
    """n requests over n/4 borrowers (two loans each), ~6 earlier attempts per borrower, a few flags."""
    rng = random.Random(seed)
    borrowers = max(1, n // 4)
    profile_of = {b: rng.choice(list(ZONES)) for b in range(borrowers)}
    attempts = []
    for b in range(borrowers):
        for _ in range(rng.randrange(0, 13)):
            attempts.append(ContactAttempt(
                borrower_id=b, loan_id=b * 10 + rng.randrange(2),
                method=rng.choice([Method.call, Method.call, Method.sms]),
                party=Party.debtor if rng.randrange(10) else Party.third_party, outcome=rng.choice(list(Outcome)),
                at=START - timedelta(minutes=rng.randrange(10 * 24 * 60)), agency_id=rng.choice([None, 1, 2]),
                third_party_id=f"tp{rng.randrange(3)}"))
    flags = [BorrowerFlags(b, do_not_contact=not rng.randrange(50), open_complaint=not rng.randrange(50),
                           signed_agreement_with_collection_stop=not rng.randrange(100)) for b in range(borrowers)]
    requests, codes = [], []
    for _ in range(n):
        b = rng.randrange(borrowers)
        owed = rng.randrange(10_000, 5_000_000)
        stated = owed if rng.randrange(10) else owed + 100
        template = rng.choice(TEXTS)
        third = not rng.randrange(10)
        requests.append(ContactRequest(
            case_id=b, loan_id=b * 10 + rng.randrange(2), borrower_id=b, borrower_tz=ZONES[profile_of[b]],
            method=rng.choice([Method.call, Method.call, Method.sms, Method.app, Method.letter]),
            party=Party.third_party if third else Party.debtor,
            purpose=Purpose.locate if third else rng.choice([Purpose.collect, Purpose.remind]),
            at=START + timedelta(minutes=rng.randrange(7 * 24 * 60)), agency_id=rng.choice([None, 1, 2]),
            template_text=template.format(amount=f"{stated // 100:,}.{stated % 100:02d}") if template else None,
            amount_owed_fen=owed, third_party_id=f"tp{rng.randrange(3)}" if third else None))
        codes.append(profile_of[b])
    return requests, codes, attempts, flags


def run_guard_bench(n: int = 20_000, single_sample: int = 2_000) -> dict:
    profiles = packaged_profiles()
    requests, codes, attempts, flags = portfolio(n)
    req_t, hist_t, flag_t = requests_table(requests, codes), history_table(attempts), flags_table(flags)
    check_many(req_t.slice(0, 100), hist_t, flag_t, profiles)  # warm caches (zone offsets, patterns)
    started = time.perf_counter_ns()
    decisions = check_many(req_t, hist_t, flag_t, profiles)
    bulk_ns = max(1, time.perf_counter_ns() - started)

    by_borrower: dict[int, list[ContactAttempt]] = {}
    for a in attempts:
        by_borrower.setdefault(a.borrower_id, []).append(a)
    flag_of = {f.borrower_id: f for f in flags}
    timings = []
    for request, code in list(zip(requests, codes))[:single_sample]:
        history = tuple(by_borrower.get(request.borrower_id, ()))
        started = time.perf_counter_ns()
        check(request, history, flag_of.get(request.borrower_id), profiles[code])
        timings.append(time.perf_counter_ns() - started)
    timings.sort()
    p99_ns = timings[min(len(timings) - 1, len(timings) * 99 // 100)]
    blocked = decisions.num_rows - pc.sum(decisions.column("allowed").cast(pa.int64())).as_py()
    return {"requests": n, "history_rows": len(attempts), "blocked": blocked,
            "guard_bulk_ms": bulk_ns // 1_000_000, "guard_bulk_per_s": n * 1_000_000_000 // bulk_ns,
            "guard_single_p99_ms": round(p99_ns / 1_000_000, 3), "single_sample": len(timings)}

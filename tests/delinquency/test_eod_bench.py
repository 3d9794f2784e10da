"""The end-of-day benchmark on a small portfolio: its figures are computed, not printed blind. The PostgreSQL round
trip's next day reads only the loans that paid since the first run, and that read equals a full one."""

from arrears.bench.eod import CLOSED_ONE_IN, NEW_ONE_IN, run_eod_bench


def test_the_round_trip_next_day_reads_what_changed_and_equals_a_full_read(pg_url):
    figures = run_eod_bench(2_000, sample=40, incremental=True, database_url=pg_url)
    assert figures["loans"] == 2_000 and figures["incremental_equals_full"] is True
    # the next date as production sees it: the newest loans first seen then, some of P's closed
    new = 2_000 // NEW_ONE_IN
    assert figures["incremental_new_loans"] == new > 0
    assert figures["incremental_closed_loans"] == sum(1 for i in range(1, 2_001 - new) if i % CLOSED_ONE_IN == 3) > 0
    assert figures["pg_next_paying_loans"] > 0
    # every loan that paid is read again, and (the bench's portfolio books nothing else) no other
    assert figures["pg_next_changed_loans"] == figures["pg_next_paying_loans"]
    assert figures["pg_next_read_equals_full"] is True
    assert figures["pg_penalty_changes"] > 0 and figures["pg_round_trip_s"] > 0
    # the engine and the next date are timed like the floor, best of three runs, the first one reported beside
    assert figures["runs"] == 3
    assert 0 < figures["engine_s"] <= figures["engine_first_s"]
    assert 0 < figures["incremental_s"] <= figures["incremental_first_s"]
    # the machine's load beside them, at the start and at the end (a shared machine's figures vary with it)
    before, after = figures["load_average_1m"]
    assert before >= 0 and after >= 0

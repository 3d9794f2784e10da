"""The borrower's local time, as integers: instants are microseconds since the Unix epoch (UTC), local days
are epoch-day numbers and times of day microseconds after local midnight.

Integers keep one request and a whole table on exactly the same arithmetic: ``guard.py`` asks zoneinfo
for the offset of each instant; ``bulk.py`` looks the same offsets up (an ASOF join) in a table of the
zone's transitions that ``offsets_table`` derives from zoneinfo, so both see the same tz database.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import pyarrow as pa

US = timedelta(microseconds=1)
_S = timedelta(seconds=1)
DAY_US = 86_400_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_STEP_S = 6 * 3600  # zones change offset at most a few times a year, never twice in 6 hours


def to_us(at: datetime) -> int:
    return (at - EPOCH) // US


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def offset_us(tz: ZoneInfo, at_us: int) -> int:
    return from_us(at_us).astimezone(tz).utcoffset() // US  # type: ignore[operator]


def local_us(tz: ZoneInfo, at_us: int) -> int:
    return at_us + offset_us(tz, at_us)


def wall_to_us(tz: ZoneInfo, day: int, tod_us: int) -> int:
    """A local wall time to an instant; fold=0 picks the first of a repeated hour and reads a skipped one
    with the offset before the change (zoneinfo's rule; bulk uses this same function)."""
    naive = datetime.fromordinal(_EPOCH_ORDINAL + day) + timedelta(microseconds=tod_us)
    return to_us(naive.replace(tzinfo=tz))


def _offset_s(tz: ZoneInfo, second: int) -> int:
    return from_us(second * 1_000_000).astimezone(tz).utcoffset() // _S  # type: ignore[operator]


@lru_cache(maxsize=512)
def _year_transitions(tz_name: str, year: int) -> tuple[tuple[int, int], ...]:
    """(first second, offset seconds) at the start of a UTC year and at each change within it."""
    tz = ZoneInfo(tz_name)
    start = (datetime(year, 1, 1, tzinfo=UTC) - EPOCH) // _S
    end = (datetime(year + 1, 1, 1, tzinfo=UTC) - EPOCH) // _S
    rows = [(start, _offset_s(tz, start))]
    t = start
    while t < end:
        nxt = min(t + _STEP_S, end)
        if _offset_s(tz, nxt) != rows[-1][1]:
            lo, hi = t, nxt  # offset(lo) is the current one, offset(hi) the new one
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if _offset_s(tz, mid) == rows[-1][1] else (lo, mid)
            rows.append((hi, _offset_s(tz, hi)))
        t = nxt
    return tuple(rows)


def offsets_table(tz_names: set[str], lo_us: int, hi_us: int) -> pa.Table:
    """Every zone's offset from ``lo_us`` to ``hi_us``: rows (tz, from_us, off_us) for an ASOF join."""
    tzs, froms, offs = [], [], []
    first, last = from_us(lo_us).year - 1, from_us(hi_us).year + 1
    for name in sorted(tz_names):
        for year in range(first, last + 1):
            for second, off in _year_transitions(name, year):
                tzs.append(name)
                froms.append(second * 1_000_000)
                offs.append(off * 1_000_000)
    return pa.table({"tz": pa.array(tzs, pa.string()), "from_us": pa.array(froms, pa.int64()),
                     "off_us": pa.array(offs, pa.int64())})

"""What every benchmark shares: a stopwatch, peak memory and the machine's load beside the figures."""

from __future__ import annotations

import os
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def load_average_1m() -> float:
    """The machine's one-minute load average: on a shared 2-core machine a figure means little without it."""
    return round(os.getloadavg()[0], 2)


@contextmanager
def stopwatch(figures: dict, key: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    figures[key] = round(time.perf_counter() - start, 3)

"""What every benchmark shares: a stopwatch and peak memory."""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


@contextmanager
def stopwatch(figures: dict, key: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    figures[key] = round(time.perf_counter() - start, 3)

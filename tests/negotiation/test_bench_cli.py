"""``arrears bench negotiation --json`` prints one JSON object with the figures the issue names."""

from __future__ import annotations

import json
import subprocess
import sys


def test_bench_prints_one_json_object_with_the_options_figures():
    out = subprocess.run([sys.executable, "-m", "arrears.cli", "bench", "negotiation", "--json", "--runs", "5", "--agreements", "3"],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    figures = json.loads(out)
    assert figures["candidates"] >= 40 and figures["runs"] == 5
    assert 0 < figures["options_p50_ms"] <= figures["options_p95_ms"]
    assert figures["agreement_pdf_ms"] > 0 and figures["agreements"] == 3 and figures["agreements_1000_s"] > 0

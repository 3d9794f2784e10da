"""Fails if a float appears in code that handles money: a float() call, a float annotation or a
float literal anywhere in the package, outside the few places where a float is not money
(benchmark timings). New exceptions must be added here, in review, with the reason."""

import ast
from pathlib import Path

import arrears

PACKAGE = Path(arrears.__file__).parent
# path (relative to the package) → why a float is acceptable there
ALLOWED = {
    "bench/common.py": "wall-clock seconds of benchmark runs",
    "bench/imports.py": "wall-clock seconds of benchmark runs",
    "bench/eod.py": "wall-clock seconds and ratios of benchmark runs",
    "negotiation/bench.py": "milliseconds of benchmark runs",
    "web/workbench/bench.py": "milliseconds of benchmark runs (the queue query's percentiles)",
    # Risk scores: probabilities, logits, bin edges and evaluation figures are not money. Amounts enter the
    # features as int fen or as ratios of fen computed in SQL; no amount is ever computed from these floats.
    "scores/scorecard.py": "logistic regression on binned features: coefficients and probabilities",
    "scores/model.py": "score model coefficients, logits and probabilities",
    "scores/metrics.py": "AUC, KS, Brier score and calibration figures",
    "scores/train.py": "split shares and evaluation figures",
    "scores/features_one.py": "one loan's feature ratios (as the feature SQL computes them) and its rate as a number",
    "scores/sources.py": "synthetic plan terms (ratios) and their completion probabilities",
    "scores/bench.py": "wall-clock seconds of benchmark runs and synthetic feature values",
}


def _isinstance_checks(tree: ast.AST) -> set[int]:
    """ids of `float` names used only to test a type (isinstance(x, float)): refusing floats is fine."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance":
            for sub in ast.walk(node.args[1]):
                ids.add(id(sub))
    return ids


def _float_uses(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    checks = _isinstance_checks(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "float":
            found.append((node.lineno, "float() call"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, float):
            found.append((node.lineno, f"float literal {node.value!r}"))
        elif isinstance(node, ast.Name) and node.id == "float" and id(node) not in checks:
            found.append((node.lineno, "float type"))
    return found


def test_no_float_in_the_package():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in ALLOWED:
            continue
        for line, what in _float_uses(ast.parse(path.read_text(encoding="utf-8"))):
            offenders.append(f"{rel}:{line}: {what}")
    assert offenders == [], "floats in money code:\n" + "\n".join(offenders)


def test_the_scan_finds_a_float_when_there_is_one():
    assert len(_float_uses(ast.parse("x = float(y)\nz: float = 0.5\n"))) == 4
    assert _float_uses(ast.parse("if isinstance(v, float):\n    raise ValueError\n")) == []

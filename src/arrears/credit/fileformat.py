"""The credit-report file: UTF-8 JSON Lines (docs/credit-reporting.md). Line 1 is the header record ``H``;
then one ``A`` (account) record per account and ``S`` (special transaction) records, each a JSON object
with exactly the fields listed below, in that order. Written by DuckDB (no Python loop over records);
checked by ``validate_file``, which names the line and the field of every problem."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from arrears.credit.policy import SPECIAL_KINDS, CreditPolicy
from arrears.credit.records import ACCOUNT_COLUMNS, SPECIAL_COLUMNS
from arrears.credit.status import MONTHS

FORMAT = "arrears-credit/1"
HEADER_COLUMNS = ("record", "format", "institution", "report_month", "created_at", "accounts", "specials")
STATES = ("normal", "overdue", "settled", "written_off", "transferred", "unknown")
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def write_file(path: Path, policy: CreditPolicy, report_month: date, accounts: pa.Table, specials: pa.Table,
               created_at: datetime) -> str:
    """Writes header + records atomically; returns the file's SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {"record": "H", "format": FORMAT, "institution": policy.institution_code,
              "report_month": report_month.strftime("%Y-%m"), "created_at": created_at.isoformat(),
              "accounts": accounts.num_rows, "specials": specials.num_rows}
    tmp = path.with_suffix(f".tmp-{os.getpid()}")
    parts = [tmp.with_suffix(tmp.suffix + f".{i}") for i in range(2)]
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    for part, table, columns in ((parts[0], accounts, ACCOUNT_COLUMNS), (parts[1], specials, SPECIAL_COLUMNS)):
        con.register("t", table.select(list(columns)))
        con.execute(f"COPY (SELECT * FROM t) TO '{part}' (FORMAT JSON)")
        con.unregister("t")
    con.close()
    with open(tmp, "wb") as out:
        out.write((json.dumps(header, ensure_ascii=False) + "\n").encode())
        for part in parts:
            with open(part, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
            part.unlink()
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    return file_sha256(path)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Validation:
    lines: int = 0
    accounts: int = 0
    specials: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _check_fields(obj: dict, columns: tuple[str, ...], where: str, problems: list[str]) -> bool:
    if list(obj) != list(columns):
        missing = [c for c in columns if c not in obj]
        extra = [c for c in obj if c not in columns]
        what = (f"missing {', '.join(missing)}" if missing else "") + \
               (f" unexpected {', '.join(extra)}" if extra else "") or "fields out of order"
        problems.append(f"{where}: fields: {what.strip()} (rule credit.file.fields)")
        return False
    return True


def _int(obj: dict, name: str, where: str, problems: list[str], minimum: int = 0) -> None:
    v = obj[name]
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        problems.append(f"{where}: {name}: must be an integer ≥ {minimum}, got {v!r} (rule credit.file.integer)")


def _text(obj: dict, name: str, where: str, problems: list[str], pattern: re.Pattern | None = None,
          allowed: tuple[str, ...] | None = None) -> None:
    v = obj[name]
    if not isinstance(v, str) or (pattern and not pattern.match(v)) or (allowed and v not in allowed) or \
            (pattern is None and allowed is None and not v):
        problems.append(f"{where}: {name}: invalid value {v!r} (rule credit.file.{name})")


def validate_file(path: Path, policy: CreditPolicy, limit: int = 200) -> Validation:
    """Every line parsed and checked; problems name ``line N`` and the field and rule."""
    result, problems = Validation(), []
    alphabet, month_label, header, seen = set(policy.status_codes.alphabet), None, None, set()
    special_codes = {policy.special_code(k): k for k in SPECIAL_KINDS}
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, start=1):
            result.lines = n
            if len(problems) >= limit:
                break
            where = f"line {n}"
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                problems.append(f"{where}: not a JSON object ({exc.msg}) (rule credit.file.json)")
                continue
            if not isinstance(obj, dict) or obj.get("record") not in ("H", "A", "S"):
                problems.append(f"{where}: record: must be H, A or S (rule credit.file.record)")
                continue
            if n == 1:
                if obj["record"] != "H":
                    problems.append(f"{where}: record: the first line must be the header H (rule credit.file.header)")
                elif _check_fields(obj, HEADER_COLUMNS, where, problems):
                    header, month_label = obj, obj.get("report_month")
                    if obj["format"] != FORMAT:
                        problems.append(f"{where}: format: expected {FORMAT!r} (rule credit.file.format)")
                    _text(obj, "report_month", where, problems, MONTH)
                    _int(obj, "accounts", where, problems)
                    _int(obj, "specials", where, problems)
                continue
            if obj["record"] == "H":
                problems.append(f"{where}: record: a second header (rule credit.file.header)")
                continue
            columns = ACCOUNT_COLUMNS if obj["record"] == "A" else SPECIAL_COLUMNS
            if not _check_fields(obj, columns, where, problems):
                continue
            if obj["report_month"] != month_label:
                problems.append(f"{where}: report_month: {obj['report_month']!r} differs from the header "
                                f"(rule credit.file.report_month)")
            _text(obj, "account_no", where, problems)
            _text(obj, "borrower_no", where, problems)
            if obj["record"] == "A":
                result.accounts += 1
                if obj["account_no"] in seen:
                    problems.append(f"{where}: account_no: {obj['account_no']!r} reported twice "
                                    f"(rule credit.file.account_unique)")
                seen.add(obj["account_no"])
                _text(obj, "opened_on", where, problems, DAY)
                for name in ("principal_fen", "balance_fen", "overdue_fen", "overdue_principal_fen", "dpd"):
                    _int(obj, name, where, problems)
                _text(obj, "account_state", where, problems, allowed=STATES)
                s = obj["status_24"]
                if not isinstance(s, str) or len(s) != MONTHS or not set(s) <= alphabet:
                    problems.append(f"{where}: status_24: must be {MONTHS} characters of {''.join(sorted(alphabet))}, "
                                    f"got {s!r} (rule credit.file.status_24)")
                for name in ("disputed", "correction"):
                    if not isinstance(obj[name], bool):
                        problems.append(f"{where}: {name}: must be true or false (rule credit.file.boolean)")
            else:
                result.specials += 1
                if special_codes.get(obj["special_code"]) != obj["special_kind"]:
                    problems.append(f"{where}: special_code: {obj['special_code']!r} is not the code of "
                                    f"{obj['special_kind']!r} (rule credit.file.special_code)")
                if obj["account_no"] not in seen:
                    problems.append(f"{where}: account_no: no account record before this special record "
                                    f"(rule credit.file.special_account)")
                _text(obj, "occurred_on", where, problems, DAY)
                _int(obj, "amount_fen", where, problems)
                _int(obj, "months_changed", where, problems, minimum=-600)
    if result.lines == 0:
        problems.append("line 1: the file is empty (rule credit.file.header)")
    elif header is not None and not problems:
        for name, count in (("accounts", result.accounts), ("specials", result.specials)):
            if header[name] != count:
                problems.append(f"line 1: {name}: header says {header[name]}, the file has {count} "
                                f"(rule credit.file.count)")
    result.problems = problems
    return result

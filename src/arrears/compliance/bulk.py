"""The contact guard for a whole table of requests, set-based: ``check_many(requests, history, flags,
profiles) -> decisions``. It equals ``guard.check`` row by row (a property test holds it to that).

Content patterns run column-wise in Arrow (RE2), everything else in one DuckDB query over integer
microseconds: local times come from an ASOF join on each zone's offsets (derived from zoneinfo, as in
``guard.py``), caps from joining requests to earlier attempts and the profile's rules as small tables.
Python only loops over profiles, patterns and distinct (zone, day) keys, never over requests.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from arrears.compliance import bulk_sql
from arrears.compliance.guard import FREEZE_FLAGS, day_open, release_from
from arrears.compliance.localtime import offsets_table
from arrears.compliance.model import (
    BorrowerFlags,
    ContactAttempt,
    ContactRequest,
    Method,
    Outcome,
    Party,
    Purpose,
    zone,
)
from arrears.compliance.policy import Profile
from arrears.errors import InvalidInput

UTC_US = pa.timestamp("us", tz="UTC")
DECISIONS = pa.schema([("allowed", pa.bool_()), ("rule", pa.string()), ("broken", pa.list_(pa.string())),
                       ("reason_zh", pa.string()), ("reason_en", pa.string()), ("next_allowed_at", UTC_US),
                       ("profile", pa.string()), ("method", pa.string()), ("party", pa.string())])
# column → (type, default when absent; None = required)
REQUEST_COLUMNS = {
    "case_id": (pa.int64(), None), "loan_id": (pa.int64(), None), "borrower_id": (pa.int64(), None),
    "borrower_tz": (pa.string(), None), "method": (pa.string(), None), "party": (pa.string(), None),
    "purpose": (pa.string(), None), "at": (UTC_US, None), "profile": (pa.string(), None),
    "agency_id": (pa.int64(), "null"), "template_text": (pa.string(), "null"), "discloses_debt": (pa.bool_(), False),
    "amount_owed_fen": (pa.int64(), "null"), "third_party_id": (pa.string(), "null")}
HISTORY_COLUMNS = {
    "borrower_id": (pa.int64(), None), "loan_id": (pa.int64(), None), "method": (pa.string(), None),
    "party": (pa.string(), None), "outcome": (pa.string(), None), "at": (UTC_US, None),
    "agency_id": (pa.int64(), "null"), "third_party_id": (pa.string(), "null")}
FLAG_COLUMNS = {"borrower_id": (pa.int64(), None), **{flag: (pa.bool_(), False) for _, flag in FREEZE_FLAGS}}
ENUMS = {"method": Method, "party": Party, "purpose": Purpose, "outcome": Outcome}


def _conform(table: pa.Table, columns: dict, what: str) -> pa.Table:
    """The columns the guard reads, typed; a missing, mistyped or invalid column names itself."""
    out = {}
    for name, (kind, default) in columns.items():
        if name not in table.column_names:
            if default is None:
                raise InvalidInput(f"{what}: column {name!r} is required", field=name)
            out[name] = pa.nulls(table.num_rows, kind) if default == "null" \
                else pa.array([default] * table.num_rows, kind)
            continue
        col = table.column(name)
        if kind == UTC_US and (not pa.types.is_timestamp(col.type) or col.type.tz is None):
            raise InvalidInput(f"{what}: {name} must be a timezone-aware timestamp", field=name)
        try:
            col = col.cast(kind)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InvalidInput(f"{what}: {name}: {exc}", field=name) from None
        if default is None and col.null_count:
            raise InvalidInput(f"{what}: {name} has empty values", field=name)
        if default is not None and default != "null":
            col = pc.fill_null(col, default)
        if name in ENUMS:
            bad = pc.invert(pc.is_in(col, value_set=pa.array([m.value for m in ENUMS[name]])))
            if pc.any(bad).as_py():
                row = pc.index(bad, True).as_py()
                raise InvalidInput(f"{what}: row {row}: unknown {name} {col[row].as_py()!r}", field=name)
        out[name] = col
    conformed = pa.table(out)
    return conformed.set_column(conformed.schema.get_field_index("at"), "at_us",
                                conformed.column("at").cast(pa.int64())) if "at" in out else conformed


def _validate(req: pa.Table, profiles: dict[str, Profile]) -> None:
    unknown = set(pc.unique(req.column("profile")).to_pylist()) - set(profiles)
    if unknown:
        raise InvalidInput(f"requests: unknown profile(s) {sorted(unknown)}; known {sorted(profiles)}", field="profile")
    for name in pc.unique(req.column("borrower_tz")).to_pylist():
        zone(name)
    nameless = pc.and_(pc.equal(req.column("party"), Party.third_party.value),
                       pc.is_null(req.column("third_party_id")))
    if pc.any(nameless).as_py():
        raise InvalidInput(f"requests: row {pc.index(nameless, True).as_py()}: a contact with a third party "
                           "must name the third party", field="third_party_id")


def _pattern_hits(req: pa.Table, profiles: dict[str, Profile]) -> tuple[pa.Table, pa.Array]:
    """Content rules each text breaks (rid, rule), and whether each text mentions the debt."""
    texts, codes = req.column("template_text"), req.column("profile")
    by_pattern: dict[tuple[str, str], list[str]] = {}
    for code, profile in profiles.items():
        for rule, pattern in profile.content:
            by_pattern.setdefault((rule, pattern), []).append(code)
        by_pattern.setdefault(("disclosure", profile.disclosure), []).append(code)
    rids, rules = [], []
    mentions = pa.array([False] * req.num_rows, pa.bool_())
    for (rule, pattern), codes_with in by_pattern.items():
        mask = pc.and_(pc.fill_null(pc.match_substring_regex(texts, pattern), False),
                       pc.is_in(codes, value_set=pa.array(codes_with)))
        if rule == "disclosure":
            mentions = pc.or_(mentions, mask)
            continue
        hit = pc.indices_nonzero(mask)
        rids.append(hit.cast(pa.int64()))
        rules.append(pa.array([rule] * len(hit), pa.string()))
    hits = pa.table({"rid": pa.concat_arrays(rids) if rids else pa.array([], pa.int64()),
                     "rule": pa.concat_arrays(rules) if rules else pa.array([], pa.string())})
    return hits, mentions


def _profile_tables(profiles: dict[str, Profile]) -> dict[str, pa.Table]:
    """The profiles' rules as small tables (one row per profile and item, duplicates removed)."""
    rows: dict[str, set[tuple]] = {k: set() for k in ("rules", "freeze_ok", "quiet_m", "quiet_w", "caps", "cap_m",
                                                    "cap_p", "cap_o", "tp", "tp_purpose", "tp_fm", "tp_fo")}
    for code, p in profiles.items():
        rows["rules"] |= {(code, r, i.order, i.reason_zh, i.reason_en, i.time_based) for r, i in p.rules.items()}
        rows["freeze_ok"] |= {(code, r, str(pu)) for r, f in p.forbidden.freezes.items() for pu in f.allowed_purposes}
        q = p.spec.quiet_hours
        rows["quiet_m"] |= {(code, str(m)) for m in q.methods}
        rows["quiet_w"] |= {(code, i, *w.us()) for i, w in enumerate(q.windows)}
        for c in p.spec.caps:
            rows["caps"].add((code, c.rule, c.per_method, c.scope == "debt", c.agencies == "each", c.limit, c.days))
            rows["cap_m"] |= {(code, c.rule, str(m)) for m in c.methods}
            rows["cap_p"] |= {(code, c.rule, str(x)) for x in c.parties}
            rows["cap_o"] |= {(code, c.rule, str(o)) for o in c.outcomes}
        tp = p.spec.third_party
        rows["tp"].add((code, tp.allowed, tp.after_failed_contacts, tp.max_contacts_per_person))
        rows["tp_purpose"] |= {(code, str(x)) for x in tp.purposes}
        rows["tp_fm"] |= {(code, str(x)) for x in tp.failed_contact_methods}
        rows["tp_fo"] |= {(code, str(x)) for x in tp.failed_outcomes}
    return {name: pa.Table.from_pylist([dict(zip(bulk_sql.COLUMNS[name], r)) for r in sorted(rs, key=repr)],
                                       schema=bulk_sql.SCHEMAS[name]) for name, rs in rows.items()}


def _next_allowed(con: duckdb.DuckDBPyConnection, profiles: dict[str, Profile]) -> None:
    """Release instants for the distinct (profile, zone, day, …) keys the refusals need, by the same
    functions ``guard.check`` uses; registered as tables ``open_at`` and ``quiet_end``."""
    opens = con.sql("SELECT DISTINCT profile, tz, method, max_reset FROM dec "
                    "WHERE all_tb AND max_reset IS NOT NULL").fetchall()
    quiet = con.sql("SELECT DISTINCT profile, tz, q_end_day, q_idx FROM dec "
                    "WHERE all_tb AND max_reset IS NULL AND q_idx IS NOT NULL").fetchall()
    con.register("open_at", pa.table({
        "profile": pa.array([k[0] for k in opens], pa.string()), "tz": pa.array([k[1] for k in opens], pa.string()),
        "method": pa.array([k[2] for k in opens], pa.string()), "day": pa.array([k[3] for k in opens], pa.int64()),
        "at_us": pa.array([day_open(profiles[p], zone(tz), d, m) for p, tz, m, d in opens], pa.int64())}))
    con.register("quiet_end", pa.table({
        "profile": pa.array([k[0] for k in quiet], pa.string()), "tz": pa.array([k[1] for k in quiet], pa.string()),
        "day": pa.array([k[2] for k in quiet], pa.int64()), "idx": pa.array([k[3] for k in quiet], pa.int64()),
        "at_us": pa.array([release_from(profiles[p], zone(tz), d, i) for p, tz, d, i in quiet], pa.int64())}))


def check_many(requests: pa.Table, history: pa.Table | None, flags: pa.Table | None,
               profiles: dict[str, Profile]) -> pa.Table:
    """One decision per request, in the requests' order (columns ``DECISIONS``; ``request_id`` is kept).

    ``requests`` has the fields of ``ContactRequest`` plus ``profile`` (the profile code); ``history`` those of
    ``ContactAttempt``; ``flags`` those of ``BorrowerFlags`` (a borrower listed twice: any set flag counts).
    Times are timezone-aware timestamps. Bad input raises ``InvalidInput`` naming the column (and row).
    """
    req = _conform(requests, REQUEST_COLUMNS, "requests")
    _validate(req, profiles)
    hist = _conform(history if history is not None else _empty(HISTORY_COLUMNS), HISTORY_COLUMNS, "history")
    fl = _conform(flags if flags is not None else _empty(FLAG_COLUMNS), FLAG_COLUMNS, "flags")
    hits, mentions = _pattern_hits(req, profiles)
    req = req.append_column("rid", pa.array(range(req.num_rows), pa.int64())).append_column("mentions_debt", mentions)
    instants = pc.min_max(pa.chunked_array(req.column("at_us").chunks + hist.column("at_us").chunks, pa.int64()))
    tzt = offsets_table(set(pc.unique(req.column("borrower_tz")).to_pylist()),
                        instants["min"].as_py() or 0, instants["max"].as_py() or 0)

    con = duckdb.connect()
    try:
        for name, table in {"req": req, "hist": hist, "flags": fl, "tzt": tzt, "hits": hits,
                            **_profile_tables(profiles)}.items():
            con.register(name, table)
        con.execute(bulk_sql.decisions_sql(profiles))
        _next_allowed(con, profiles)
        out = con.sql(bulk_sql.FINAL).to_arrow_table()
    finally:
        con.close()
    decisions = pa.table({f.name: out.column(f.name).cast(f.type) for f in DECISIONS})
    if "request_id" in requests.column_names:
        decisions = decisions.add_column(0, "request_id", requests.column("request_id"))
    return decisions


def _empty(columns: dict) -> pa.Table:
    return pa.table({n: pa.array([], kind) for n, (kind, _) in columns.items()})


def _records(rows: Iterable, columns: dict, extra: dict | None = None) -> pa.Table:
    rows = list(rows)
    data = {n: pa.array([_plain(getattr(r, n)) for r in rows], kind) for n, (kind, _) in columns.items()
            if n != "profile"}
    return pa.table({**data, **(extra or {})})


def _plain(value: object) -> object:
    return value.value if isinstance(value, StrEnum) else value


def requests_table(requests: Iterable[ContactRequest], profile_codes: Iterable[str]) -> pa.Table:
    """Records to the table ``check_many`` reads (each request with its profile's code)."""
    return _records(requests, REQUEST_COLUMNS, {"profile": pa.array(list(profile_codes), pa.string())})


def history_table(attempts: Iterable[ContactAttempt]) -> pa.Table:
    return _records(attempts, HISTORY_COLUMNS)


def flags_table(flags: Iterable[BorrowerFlags]) -> pa.Table:
    return _records(flags, FLAG_COLUMNS)


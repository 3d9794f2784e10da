"""The per-instalment detail, for the loans that are not plain (``eod_pre.needs_detail``).

Each instalment gets its settled amounts, its penalty weights (``eod_di``, a view) and its uncapped penalty
(``eod_unc``, stored: it is the one wide pass over the detail instalments); the
loan's cap room is handed out in seq order by a running sum (``eod_pen``); dpd and over-settlement come from
the instalments (``eod_dl``). Restructured loans get their observation period (``eod_rs*``).
"""

from __future__ import annotations

from arrears.delinquency.sql.main import PICKED, settled_rows
from arrears.loans.schedules_sql import round_ratio_sql


def signed_round(a: str, b: str, mode: str) -> str:
    """round(a / b) for any sign of ``a`` (b > 0): every mode of arrears.money is symmetric about zero."""
    return (f"CASE WHEN {a} = 0 THEN 0 WHEN {a} < 0 THEN -({round_ratio_sql(f'(-{a})', b, mode)}) "
            f"ELSE {round_ratio_sql(a, b, mode)} END")


# Below this, a and b of a rounding fit BIGINT with room for round_ratio's 2·a + b: the usual case, done in
# BIGINT; HUGEINT (software 128-bit division, several times slower) only for the rows that need it.
SMALL = 2**61


def fast_round(a: str, b: str, mode: str) -> str:
    """signed_round(a, b, mode) of HUGEINT ``a``, ``b`` (column names), in BIGINT when both are small."""
    small = f"{a} < {SMALL} AND {a} > -{SMALL} AND {b} < {SMALL}"
    return (f"CASE WHEN {small} THEN {signed_round(f'CAST({a} AS BIGINT)', f'CAST({b} AS BIGINT)', mode)} "
            f"ELSE {signed_round(a, b, mode)} END")


def hugeint(expr: str) -> str:
    return f"CAST({expr} AS HUGEINT)"


def prm_sql() -> str:
    """The parameters the detail needs, with their ratios as HUGEINT (cast once, not per instalment)."""
    ratios = ", ".join(f"{hugeint(c)} AS {c}" for c in ("pen_num", "pen_den", "fee_num", "fee_den", "cap_num", "cap_den"))
    return f"""
SELECT pid, g, nbd, kind, compound, mode, has_cap, {ratios} FROM eod_params"""


def dall_sql(d: str) -> str:
    """The other instalments of the loans whose every instalment counts (restructured: the observation counts
    them; more than 63: the seq check) — usually few rows; ``eod_dsel`` adds them to ``eod_owe``."""
    columns = ("i.loan_id, i.seq, i.due_on, i.principal_due_fen AS pd, i.interest_due_fen AS id_, "
               "i.fee_due_fen AS fd, i.cost_due_fen AS cd, i.principal_settled_fen AS sp, "
               "i.interest_settled_fen AS si, i.fee_settled_fen AS sf, i.cost_settled_fen AS sc, "
               "i.penalty_settled_fen AS spen")
    return f"""
SELECT {columns} FROM eod_instalments i
JOIN eod_pre p ON p.loan_id = i.loan_id AND p.needs_detail AND (p.restructured_on IS NOT NULL OR p.seq_state IS NULL)
WHERE NOT ({PICKED.format(d=d).replace("due_on", "i.due_on").replace("penalty_settled_fen", "i.penalty_settled_fen")})"""


def dsel_sql() -> str:
    """The instalments that can weigh in a detail loan's results (``eod_owe``) and ``eod_dall``: a view, so that
    the ≈ 1M rows of eod_owe are not stored a second time."""
    return """
SELECT * FROM eod_owe
UNION ALL
SELECT * FROM eod_dall"""


def ds_sql(d: str) -> str:
    """Per (loan, seq) of a detail loan's settlements seen one by one: the late-chunk weights Σ a·(v − E) of
    principal and interest settled more than g days after E, principal + interest settled after E + g (the
    card's minimum is judged by E + g) and after due_on (restructured loans: what was settled by due_on).
    A settlement's due_on is its instalment's (docs/eod.md, Inputs), so E comes from it; ``eod_due`` holds
    the due dates ≤ D only: a later one has no E (not yet due)."""
    days = "date_diff('day', s.eff, s.value_date)"
    pi = "s.code IN (1, 2)"
    return f"""
SELECT s.loan_id, s.seq, min(s.due_on) AS due_on,
       sum(CASE WHEN s.code = 1 AND {days} > s.g THEN {hugeint('s.amount_fen')} * {days} ELSE 0 END) AS wsp,
       sum(CASE WHEN s.code = 2 AND {days} > s.g THEN {hugeint('s.amount_fen')} * {days} ELSE 0 END) AS wsi,
       sum(CASE WHEN {pi} AND {days} > s.g THEN s.amount_fen ELSE 0 END) AS pi_after_grace,
       sum(CASE WHEN {pi} AND s.value_date > s.due_on THEN s.amount_fen ELSE 0 END) AS pi_after_due
FROM (
    SELECT r.loan_id, r.seq, r.due_on, r.code, r.amount_fen, r.value_date, q.g,
           CASE WHEN q.nbd THEN x.e_nbd ELSE x.e_none END AS eff
    FROM {settled_rows(d)} r
    JOIN eod_pre p ON p.loan_id = r.loan_id AND p.needs_detail
    JOIN eod_prm q ON q.pid = p.pid
    LEFT JOIN eod_due x ON x.due_on = r.due_on
    WHERE r.due_on IS NOT NULL
) s
GROUP BY s.loan_id, s.seq"""


def di_sql(d: str, only: str = "") -> str:
    """Per instalment of a detail loan (a view: ``eod_unc`` keeps what the rest needs): ``eod_dsel`` and, as
    a fully settled one (due and settled amounts 0: it owes nothing, its late chunks come from ``eod_ds``),
    each instalment only a settlement seen one by one names; E, past-due, the loan's parameters and the
    penalty's bases — the principal and interest weights W (late settled chunks, plus the unsettled rest if
    past due) and the card's unpaid minimum. ``only``: a query of the loan_ids to keep, applied before the join."""
    return dated_sql(d, f"({di_base_sql(only)})")


def di_base_sql(only: str = "") -> str:
    """``di_sql``'s rows without the columns that depend on the date: what the incremental run keeps of them
    (``carry.keep_sql``)."""
    dsel, ds = (f"(SELECT * FROM {t} WHERE loan_id IN ({only}))" if only else t for t in ("eod_dsel", "eod_ds"))
    amounts = ("pd", "id_", "fd", "cd", "sp", "si", "sf", "sc", "spen")
    return f"""
SELECT u.loan_id, u.seq, u.due_on, {", ".join(f"u.{a}" for a in amounts)}, u.wsp, u.wsi, u.pi_after_grace,
       coalesce(u.pi_after_due, 0) AS pi_after_due, q.g, q.kind, q.compound, p.pid, p.restructured_on,
       CASE WHEN q.nbd THEN x.e_nbd ELSE x.e_none END AS eff
FROM (
    SELECT coalesce(i.loan_id, s.loan_id) AS loan_id, coalesce(i.seq, s.seq) AS seq,
           coalesce(i.due_on, s.due_on) AS due_on, {", ".join(f"coalesce(i.{a}, 0) AS {a}" for a in amounts)},
           s.wsp, s.wsi, s.pi_after_grace, s.pi_after_due
    FROM {dsel} i FULL JOIN {ds} s ON s.loan_id = i.loan_id AND s.seq = i.seq
) u
JOIN eod_pre p ON p.loan_id = u.loan_id AND p.needs_detail
JOIN eod_prm q ON q.pid = p.pid
LEFT JOIN eod_due x ON x.due_on = u.due_on"""


def dated_sql(d: str, base: str) -> str:
    """``di_sql``'s columns of the date D — E, past-due, the weights W and the card's unpaid minimum — added to
    ``base``, a query of ``di_base_sql``'s rows."""
    late_days = f"date_diff('day', i.eff, {d})"
    return f"""
SELECT i.*, coalesce(i.wsp, 0) + CASE WHEN i.past_due AND i.pd - i.sp > 0
           THEN {hugeint('i.pd - i.sp')} * {late_days} ELSE 0 END AS w_p,
       coalesce(i.wsi, 0) + CASE WHEN i.past_due AND i.id_ - i.si > 0
           THEN {hugeint('i.id_ - i.si')} * {late_days} ELSE 0 END AS w_i,
       CASE WHEN i.past_due THEN greatest(0, i.pd + i.id_ - (i.sp + i.si - coalesce(i.pi_after_grace, 0)))
            ELSE 0 END AS card_base
FROM (
    SELECT t.*, coalesce(t.eff, t.due_on) AS e, coalesce(date_diff('day', t.eff, {d}) > t.g, FALSE) AS past_due
    FROM {base} t
) i"""


def rdi_sql(d: str) -> str:
    """The detail instalments of restructured loans (all of theirs, see ``dsel_sql``), for ``restructured.py``:
    ``eod_di``'s rows of those loans, the loans chosen first (filtering the view's output computed it all: 34 ms at
    1M loans with none restructured, 14 ms this way)."""
    return di_sql(d, only="SELECT loan_id FROM eod_pre WHERE needs_detail AND restructured_on IS NOT NULL")


# What ``unc_sql`` reads of each detail instalment (``unc_input_sql``; ``carry.di_sql`` gives the same for the
# continued loans from their kept rows): its parameters, the penalty's bases on D and what it still owes.
UNC_INPUT = ("loan_id", "seq", "spen", "kind", "compound", "pid", "eff", "past_due", "w_p", "w_i", "card_base",
             "open_p", "open_i", "open_f")


def unc_input_sql(di: str = "eod_di") -> str:
    """``UNC_INPUT`` from eod_di's rows."""
    return f"""
SELECT loan_id, seq, spen, kind, compound, pid, eff, past_due, w_p, w_i, card_base,
       pd - sp AS open_p, id_ - si AS open_i, (fd - sf) + (cd - sc) AS open_f
FROM {di}"""


def unc_sql(d: str, source: str | None = None) -> str:
    """Every detail instalment with its uncapped penalty (docs/eod.md, Penalty): round(W × P / B) on principal
    (+ on interest when compound), or round(fee rate × unpaid); and what dpd and the overdue amounts take from
    it, so that one grouped pass (``dl_sql``) gives the loan's sums. ``source``: a query of ``UNC_INPUT`` (by default
    eod_di's, ``unc_input_sql``)."""
    rounded = {
        "p": fast_round("a_p", "b_pen", "mode"), "i": fast_round("a_i", "b_pen", "mode"),
        "card": fast_round("a_card", "b_fee", "mode"),
    }
    return f"""
SELECT loan_id, seq, spen, late_days, op, oi, of_,
       CAST(CASE WHEN NOT weighs THEN 0
                 WHEN kind = 1 THEN ({rounded['p']}) + (CASE WHEN compound THEN {rounded['i']} ELSE 0 END)
                 WHEN kind = 2 THEN {rounded['card']} ELSE 0 END AS BIGINT) AS uncapped
FROM (
    SELECT x.loan_id, x.seq, x.spen, x.kind, x.compound, q.mode, x.w_p * q.pen_num AS a_p,
           x.w_i * q.pen_num AS a_i, q.pen_den AS b_pen, {hugeint('x.card_base')} * q.fee_num AS a_card,
           q.fee_den AS b_fee,
           (x.kind = 1 AND (x.w_p <> 0 OR (x.compound AND x.w_i <> 0))) OR (x.kind = 2 AND x.card_base <> 0) AS weighs,
           CASE WHEN x.past_due AND x.open_p + x.open_i + x.open_f > 0
                THEN date_diff('day', x.eff, {d}) END AS late_days,
           CASE WHEN x.past_due THEN x.open_p ELSE 0 END AS op,
           CASE WHEN x.past_due THEN x.open_i ELSE 0 END AS oi,
           CASE WHEN x.past_due THEN x.open_f ELSE 0 END AS of_
    FROM ({source or unc_input_sql()}) x
    JOIN eod_prm q ON q.pid = x.pid
) y"""


def dl_sql() -> str:
    """Per detail loan, one grouped pass: dpd (from the earliest E among past-due instalments still owing),
    the overdue amounts, and the penalty sums as if no cap bit (Σ uncapped, its smallest term, Σ due, Σ open);
    ``eod_over`` says where the cap does bite, and ``eod_plo`` has those loans' sums."""
    return """
SELECT loan_id, max(late_days) AS dpd, sum(op) AS overdue_principal, sum(oi) AS overdue_interest,
       sum(of_) AS overdue_fee, sum(uncapped) AS total_unc, min(uncapped) AS lowest,
       sum(greatest(uncapped, spen)) AS pen_due, sum(greatest(uncapped, spen) - spen) AS pen_open
FROM eod_unc GROUP BY loan_id"""


def room_sql(d: str) -> str:
    """Per detail loan under a cap: its room, round(principal × C × (D − disbursed_on) / 365) less what is used
    (interest and fees due by D, from ``eod_pre``)."""
    return f"""
SELECT loan_id, has_cap, greatest(0, {signed_round('a_cap', 'b_cap', 'mode')} - used) AS room
FROM (
    SELECT p.loan_id, p.used, q.has_cap, q.mode,
           {hugeint('l.principal_fen')} * q.cap_num * date_diff('day', l.disbursed_on, {d}) AS a_cap,
           q.cap_den AS b_cap
    FROM eod_pre p
    JOIN eod_prm q ON q.pid = p.pid
    JOIN eod_loans l ON l.loan_id = p.loan_id
    WHERE p.needs_detail AND q.has_cap
) t"""


def over_sql() -> str:
    """Detail loans whose cap bites: Σ uncapped > room, or an uncapped amount is negative (the running sum of
    ``pen_sql`` is then not the plain sum). Usually few: only these need the seq-ordered window."""
    return """
SELECT r.loan_id, r.room
FROM eod_room r JOIN eod_dl u ON u.loan_id = r.loan_id
WHERE r.has_cap AND (u.total_unc > r.room OR u.lowest < 0)"""


def pen_sql() -> str:
    """Per detail instalment: capped (room given out in seq order) and due. Where the cap does not bite
    (``eod_over``) capped = uncapped and no window is needed."""
    return """
SELECT loan_id, seq, uncapped, spen, uncapped AS capped, greatest(uncapped, spen) AS penalty_due
FROM eod_unc u WHERE NOT EXISTS (SELECT 1 FROM eod_over o WHERE o.loan_id = u.loan_id)
UNION ALL
SELECT loan_id, seq, uncapped, spen, capped, greatest(capped, spen) AS penalty_due
FROM (
    SELECT d.loan_id, d.seq, d.uncapped, d.spen,
           CAST(least(d.uncapped, greatest(0, d.room - d.before_)) AS BIGINT) AS capped
    FROM (
        SELECT u.loan_id, u.seq, u.uncapped, u.spen, o.room,
               coalesce(sum(u.uncapped) OVER (PARTITION BY u.loan_id ORDER BY u.seq
                                              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before_
        FROM eod_unc u JOIN eod_over o ON o.loan_id = u.loan_id
    ) d
) t"""


def plo_sql() -> str:
    """The penalty sums of the loans whose cap bites."""
    return """
SELECT p.loan_id, sum(p.penalty_due) AS pen_due, sum(p.penalty_due - p.spen) AS pen_open
FROM eod_pen p JOIN eod_over o ON o.loan_id = p.loan_id GROUP BY p.loan_id"""


def dup_sql() -> str:
    """Loans with more than 63 instalments (the bitmask could not decide): are their seqs 1..n? (``eod_dsel``
    has every instalment of theirs.)"""
    return """
SELECT loan_id, min(seq) = 1 AND max(seq) = count(*) AND max(c) = 1 AS seq_ok
FROM (
    SELECT i.loan_id, i.seq, count(*) AS c
    FROM eod_dsel i JOIN eod_pre p ON p.loan_id = i.loan_id AND p.seq_state IS NULL
    GROUP BY i.loan_id, i.seq
) t
GROUP BY loan_id"""

"""The rows around the big book that the web pages list (``arrears bench web``): contacts, promises, visits,
complaints, hardship applications, negotiations with their offers and agreements, legal cases with deadlines and
tasks, write-off batches, transfer packages, credit objections and in-app messages — modest volumes in proportion
to the open cases (a page listing an empty table proves nothing), COPied from DuckDB's ``w_loans``.

One borrower (``portal_borrower``) holds an overdue scheduled loan with a case, a negotiation, complaints and a
full inbox: the portal's pages are measured as them. Offers and agreements carry one real plan, built by the
negotiation services for one loan and reused (the pages show a plan; they do not check whose it is)."""

from __future__ import annotations

import json
from datetime import date, datetime

import duckdb
from sqlalchemy import text

from arrears.negotiation.serial import canonical

# Which open cases get which rows: data, in one place (loan_id is the case id; hashed where a plain modulus would
# line up with the collectors' share, loan_id // 3 % COLLECTORS, and give one collector all or none).
NEGOTIATED = "loan_id % 10 = 3"  # hardship application + negotiation
COMPLAINED = "hash(loan_id) % 8 = 1"
LEGAL = "dpd > 180 AND loan_id % 5 = 2"
PROMISED = "hash(loan_id) % 5 = 0"
VISITED = "dpd > 90 AND hash(loan_id) % 4 = 0"
MESSAGED = "hash(loan_id) % 2 = 0"
OBJECTED = "loan_id % 300 = 7"
WRITEOFF_BATCHES, WRITEOFF_ITEMS = 24, 300
TRANSFER_PACKAGES, TRANSFER_ITEMS = 12, 500
PORTAL_MESSAGES = 120


def portal_borrower(con: duckdb.DuckDBPyConnection, scheduled: int) -> int:
    (b,), = con.sql(f"SELECT min(borrower_id) FROM w_loans WHERE dpd > 0 AND {NEGOTIATED} "
                    f"AND loan_id <= {scheduled}").fetchall()
    return int(b)


def _hex(blob: bytes) -> str:
    return "'\\x" + blob.hex() + "'"  # bytea as COPY text


def template_plan(session, loan_id: int, d: date) -> tuple[dict, dict, int, int]:
    """(terms, plan, total to pay, waived) of the best option the services rank for ``loan_id``."""
    from arrears.negotiation.debt import load_context
    from arrears.negotiation.options import generate_options
    from arrears.negotiation.serial import plan_to_dict

    option = generate_options(load_context(session, loan_id, d))[0]
    return option.terms.to_dict(), plan_to_dict(option.plan), option.total_to_pay_fen, option.waived_fen


def add_rows(con: duckdb.DuckDBPyConnection, copy, factory, d: date, now: datetime, cipher, users: dict[str, int],
             scheduled: int, say) -> dict:
    """COPies the rows; returns their counts. ``copy(table, query)``; ``users`` role → id."""
    ts = f"TIMESTAMPTZ '{now.isoformat()}'"
    col, sup, leg = users["collector"], users["supervisor"], users["legal"]
    words = _hex(cipher.encrypt("借款人来电反映情况，要求核实。"))
    statement = _hex(cipher.encrypt(json.dumps({
        "incomes": {"salary": 450000}, "expenses": {"housing": 150000, "food": 120000, "transport": 30000},
        "dependants": 1, "region_code": "", "assets": {}, "other_debts_fen": 0, "description": "失业三个月"},
        ensure_ascii=False)))
    me = portal_borrower(con, scheduled)
    open_ = "FROM w_loans WHERE dpd > 0"
    say("contacts, promises, visits, complaints …")
    copy("contact_log", f"""
        SELECT loan_id * 4 + k AS id, loan_id AS case_id, borrower_id, loan_id,
               {ts} - INTERVAL 1 DAY * (k * 3 + loan_id % 3) - INTERVAL 1 HOUR * k AS at,
               CASE WHEN k = 1 THEN 'sms' ELSE 'call' END AS method, 'debtor' AS party, NULL::BIGINT AS third_party_id,
               'collect' AS purpose, TRUE AS allowed, NULL AS refused_rule,
               CASE WHEN k = 1 THEN 'sent' WHEN (loan_id + k) % 3 = 0 THEN 'connected' ELSE 'no_answer' END
                   AS outcome, NULL AS note_enc, NULL AS recording_ref, {col} AS agent_user_id,
               NULL::BIGINT AS outbox_id, {ts} AS created_at
        FROM w_loans, range(3) r(k) WHERE dpd > 0""")
    copy("promises_to_pay", f"""
        SELECT loan_id AS id, loan_id AS case_id, loan_id, borrower_id, principal_fen // term AS amount_fen,
               DATE '{d}' - 5 AS promised_on, DATE '{d}' + (hash(loan_id * 3) % 10)::INT - 3 AS due_on,
               CASE WHEN hash(loan_id * 7) % 10 < 6 THEN 'open' ELSE 'broken' END AS status,
               CASE WHEN hash(loan_id * 7) % 10 < 6 THEN NULL ELSE DATE '{d}' - 1 END AS resolved_on,
               0::BIGINT AS paid_fen,
               NULL::BIGINT AS contact_id, 1 AS version, {ts} AS created_at {open_} AND {PROMISED}""")
    copy("field_visits", f"""
        SELECT loan_id AS id, loan_id AS case_id, borrower_id, loan_id,
               {ts} - INTERVAL 1 DAY * (loan_id % 20) AS planned_at, 'home' AS address_type,
               {col} AS collector_user_id, NULL::BIGINT AS second_collector_user_id,
               CASE WHEN loan_id % 20 < 3 THEN 'scheduled' ELSE 'reported' END AS status, NULL::BIGINT AS contact_id,
               CASE WHEN loan_id % 20 < 3 THEN NULL ELSE 'connected' END AS outcome, NULL AS report_enc,
               NULL AS evidence, NULL AS recording_ref, FALSE AS committee_involved, NULL AS committee_name,
               NULL::TIMESTAMPTZ AS reported_at, 1 AS version, {ts} AS created_at {open_} AND {VISITED}""")
    cats = "['harassment', 'third_party_contact', 'amount_dispute', 'privacy', 'credit_report', 'service', 'other']"
    copy("complaints", f"""
        SELECT row_number() OVER (ORDER BY loan_id) AS id, borrower_id, loan_id AS case_id, loan_id,
               'phone' AS channel, {cats}[1 + (loan_id % 7)::INT] AS category,
               CASE WHEN loan_id % 20 < 3 THEN 'open' WHEN loan_id % 20 < 5 THEN 'in_progress'
                    WHEN loan_id % 20 < 17 THEN 'resolved' ELSE 'rejected' END AS status,
               {words} AS text_enc, {ts} - INTERVAL 1 DAY * (loan_id % 365) AS filed_at,
               CAST(DATE '{d}' - INTERVAL 1 DAY * (loan_id % 365) + INTERVAL 15 DAY AS DATE) AS sla_due_on,
               CASE WHEN loan_id % 20 >= 3 THEN {sup} END AS assignee_user_id,
               CASE WHEN loan_id % 20 >= 5 THEN {words} END AS resolution_enc,
               CASE WHEN loan_id % 20 >= 5 THEN {ts} - INTERVAL 1 DAY * (loan_id % 365) + INTERVAL 5 DAY END
                   AS resolved_at, NULL::BIGINT AS filed_by_user_id, 1 AS version, {ts} AS created_at
        {open_} AND ({COMPLAINED} OR borrower_id = {me})""")
    say("hardship applications, negotiations, offers, agreements …")
    negotiated = f"{open_} AND {NEGOTIATED}"  # every overdue loan has its schedule
    copy("hardship_applications", f"""
        SELECT loan_id AS id, loan_id, borrower_id,
               CASE WHEN loan_id % 30 < 9 THEN 'submitted' WHEN loan_id % 30 < 24 THEN 'verified' ELSE 'rejected' END
                   AS status, 'job_loss' AS hardship_kind, DATE '{d}' - 90 AS hardship_since, 1 AS dependants,
               '' AS region_code, {statement} AS statement_enc, {ts} AS consent_at, '2026-1' AS consent_version,
               'bench' AS filed_by, FALSE AS filed_by_borrower, NULL AS reviewed_by, NULL::TIMESTAMPTZ AS reviewed_at,
               NULL AS review_note_enc, 1 AS version, {ts} - INTERVAL 1 DAY * (loan_id % 60) AS created_at
        {negotiated}""")
    with factory() as session:
        first = con.sql(f"SELECT min(loan_id) {negotiated}").fetchall()[0][0]
        terms, plan, total, waived = template_plan(session, int(first), d)
    status = "CASE WHEN loan_id % 30 < 12 THEN 'open' WHEN loan_id % 30 < 21 THEN 'agreed' ELSE 'closed' END"
    copy("negotiations", f"""
        SELECT loan_id AS id, loan_id, borrower_id, CASE WHEN loan_id % 30 < 24 THEN loan_id END AS application_id,
               {status} AS status, 1 AS rounds, CASE WHEN {status} = 'agreed' THEN loan_id END AS accepted_offer_id,
               'bench_negotiator' AS opened_by, DATE '{d}' - (loan_id % 60)::INT AS opened_on, 1 AS version,
               {ts} - INTERVAL 1 DAY * (loan_id % 60) AS created_at {negotiated}""")
    plan_s, terms_s = canonical(plan).replace("'", "''"), json.dumps(terms).replace("'", "''")
    digest = "md5('plan') || md5('plan')"
    copy("negotiation_offers", f"""
        SELECT loan_id AS id, loan_id AS negotiation_id, loan_id, borrower_id, 1 AS seq, 'institution' AS party,
               'bench_negotiator' AS made_by, 'negotiator' AS made_by_role, NULL::BIGINT AS counter_to_id,
               '{terms_s}' AS terms, '{plan_s}' AS plan, {digest} AS plan_digest, {total}::BIGINT AS total_to_pay_fen,
               {waived}::BIGINT AS waived_fen, 'supervisor' AS required_authority,
               CASE {status} WHEN 'open' THEN CASE WHEN loan_id % 2 = 0 THEN 'pending_approval' ELSE 'open' END
                    WHEN 'agreed' THEN 'accepted' ELSE 'rejected' END AS status,
               {ts} + INTERVAL 72 HOUR AS expires_at, NULL AS approved_by, NULL::TIMESTAMPTZ AS approved_at,
               CASE WHEN {status} = 'open' THEN NULL ELSE 'bench_negotiator' END AS decided_by,
               CASE WHEN {status} = 'open' THEN NULL ELSE {ts} - INTERVAL 1 DAY END AS decided_at, 1 AS version,
               {ts} - INTERVAL 2 DAY AS created_at {negotiated}""")
    copy("agreements", f"""
        SELECT loan_id AS id, loan_id, borrower_id, product_code,
               CASE WHEN loan_id % 4 = 0 THEN 'borrower_signed' WHEN loan_id % 4 = 1 THEN 'sent_for_signature'
                    ELSE 'countersigned' END AS status, 'zh-CN' AS language, '{plan["kind"]}' AS plan_kind,
               DATE '{d}' - 1 AS as_of, '{plan_s}' AS terms_json, {digest} AS terms_sha256,
               {digest} AS document_sha256, 'bench_negotiator' AS prepared_by, 'portal' AS signing_method,
               NULL AS call_recording_ref, NULL::TIMESTAMPTZ AS borrower_signed_at, NULL AS countersigned_by,
               NULL::TIMESTAMPTZ AS countersigned_at, NULL::DATE AS executed_on, NULL::INT AS seq_from,
               NULL::INT AS seq_to, FALSE AS waiver_conditional, NULL::BIGINT AS waiver_entry_id,
               FALSE AS stops_collection, 0 AS renegotiation_no, NULL::DATE AS ended_on, '' AS end_reason,
               '' AS escalation, NULL AS certificate_sha256, 1 AS version, {ts} AS created_at
        {negotiated} AND {status} = 'agreed'""")
    say("legal cases, exits, objections, messages …")
    copy("legal_cases", f"""
        SELECT loan_id AS id, loan_id AS case_id, loan_id, borrower_id, {leg} AS officer_user_id,
               CASE WHEN loan_id % 20 < 3 THEN 'closed' ELSE 'open' END AS status,
               (['preparing', 'filed', 'judged', 'enforcing'])[1 + (loan_id % 4)::INT] AS phase,
               DATE '{d}' - (loan_id % 300)::INT AS opened_on, NULL AS court, NULL AS court_case_no, NULL AS firm,
               NULL AS lawyer, NULL::DATE AS filed_on, principal_fen AS claim_fen, NULL::DATE AS judgment_on,
               NULL::DATE AS judgment_served_on, NULL AS judgment_no, NULL::BIGINT AS awarded_principal_fen,
               NULL::BIGINT AS awarded_interest_fen, NULL::BIGINT AS awarded_penalty_fen,
               NULL::BIGINT AS awarded_fee_fen, NULL::BIGINT AS awarded_costs_fen, NULL::DATE AS interest_until,
               NULL::DATE AS performance_due_on, 0::BIGINT AS recovered_fen,
               CASE WHEN loan_id % 20 < 3 THEN 'withdrawn' END AS outcome,
               CASE WHEN loan_id % 20 < 3 THEN DATE '{d}' - 1 END AS closed_on, 1 AS version, {ts} AS created_at
        {open_} AND {LEGAL}""")
    copy("legal_deadlines", f"""
        SELECT loan_id AS id, loan_id AS legal_case_id, 'limitation' AS kind, DATE '{d}' + (loan_id % 90)::INT AS due_on,
               DATE '{d}' + (loan_id % 90)::INT - 7 AS remind_on, 'open' AS status, 'bench' AS source
        {open_} AND {LEGAL} AND loan_id % 20 >= 3""")
    copy("legal_tasks", f"""
        SELECT loan_id AS id, loan_id AS deadline_id, loan_id AS legal_case_id, {leg} AS assignee_user_id,
               'limitation' AS kind, DATE '{d}' + (loan_id % 90)::INT AS due_on, DATE '{d}' AS raised_on,
               'open' AS status, {ts} AS created_at {open_} AND {LEGAL} AND loan_id % 20 >= 3 AND loan_id % 100 = 7""")
    _exits(con, copy, d, ts)
    copy("credit_objections", f"""
        SELECT loan_id AS id, loan_id, borrower_id, DATE '{d}' - (loan_id % 200)::INT AS received_on,
               DATE '{d}' - (loan_id % 200)::INT + 20 AS due_on, {words} AS claim_enc,
               CASE WHEN loan_id % 3 = 0 THEN 'open' WHEN loan_id % 3 = 1 THEN 'upheld' ELSE 'rejected' END AS status,
               CASE WHEN loan_id % 3 > 0 THEN {words} END AS answer_enc,
               CASE WHEN loan_id % 3 > 0 THEN DATE '{d}' - (loan_id % 200)::INT + 10 END AS answered_on,
               CASE WHEN loan_id % 3 > 0 THEN FALSE END AS answered_late, 1 AS version, {ts} AS created_at
        FROM w_loans WHERE {OBJECTED}""")
    subject, body = _hex(cipher.encrypt("还款提醒")), _hex(cipher.encrypt("您的借款已逾期，请及时还款。"))
    copy("inapp_messages", f"""
        SELECT id, borrower_id, loan_id, NULL::BIGINT AS outbox_id, 'bench:' || id AS dedupe_key,
               'overdue_notice' AS template, 'zh-CN' AS language, {subject} AS subject_enc, {body} AS body_enc,
               {ts} - INTERVAL 1 HOUR * (id % 2000) AS created_at,
               CASE WHEN id % 3 = 0 THEN NULL ELSE {ts} END AS read_at
        FROM (SELECT loan_id AS id, borrower_id, loan_id {open_} AND {MESSAGED}
              UNION ALL SELECT 2000000000 + k, {me}, NULL FROM range({PORTAL_MESSAGES}) r(k))""")
    with factory() as session, session.begin():
        for table in ("contact_log", "promises_to_pay", "field_visits", "complaints", "hardship_applications",
                      "negotiations", "negotiation_offers", "agreements", "legal_cases", "legal_deadlines",
                      "legal_tasks", "writeoff_batches", "transfer_packages", "exit_items", "credit_objections",
                      "inapp_messages"):
            session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                 f"(SELECT coalesce(max(id), 1) FROM {table}))"))
        counts = {t: session.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in (
            "contact_log", "promises_to_pay", "field_visits", "complaints", "hardship_applications", "negotiations",
            "negotiation_offers", "agreements", "legal_cases", "exit_items", "credit_objections", "inapp_messages")}
    return {"portal_borrower": me, "rows": counts}


def _exits(con: duckdb.DuckDBPyConnection, copy, d: date, ts: str) -> None:
    """Write-off batches and transfer packages over the longest-overdue loans (disjoint), one a month."""
    rules = json.dumps({"source": "bench"})
    copy("writeoff_batches", f"""
        SELECT k + 1 AS id, CASE WHEN k = 0 THEN 'proposed' ELSE 'approved' END AS status, '{rules}' AS rules,
               'bench_legal' AS proposed_by, DATE '{d}' - (30 * k)::INT AS proposed_on,
               CASE WHEN k > 0 THEN 'bench_supervisor' END AS decided_by,
               CASE WHEN k > 0 THEN DATE '{d}' - (30 * k)::INT + 3 END AS decided_on, {WRITEOFF_ITEMS} AS loans,
               0::BIGINT AS amount_fen, 1 AS version, {ts} AS created_at FROM range({WRITEOFF_BATCHES}) r(k)""")
    copy("transfer_packages", f"""
        SELECT k + 1 AS id, 'BENCH-' || (k + 1) AS code, CASE WHEN k = 0 THEN 'draft' ELSE 'sold' END AS status,
               '{rules}' AS rules, 'bench_supervisor' AS created_by, DATE '{d}' - (30 * k)::INT AS created_on,
               {TRANSFER_ITEMS} AS loans, 0::BIGINT AS balance_fen, 0::BIGINT AS expected_recovery_fen,
               CASE WHEN k > 0 THEN '资产管理公司' END AS buyer, CASE WHEN k > 0 THEN 1000000::BIGINT END AS price_fen,
               CASE WHEN k > 0 THEN DATE '{d}' - (30 * k)::INT + 10 END AS sold_on,
               CASE WHEN k > 0 THEN 'bench_supervisor' END AS sold_by, 1 AS version, {ts} AS created_at
        FROM range({TRANSFER_PACKAGES}) r(k)""")
    w_items, t_items = WRITEOFF_BATCHES * WRITEOFF_ITEMS, TRANSFER_PACKAGES * TRANSFER_ITEMS
    copy("exit_items", f"""
        SELECT n AS id, CASE WHEN n <= {w_items} THEN 'writeoff' ELSE 'transfer' END AS batch_kind,
               CASE WHEN n <= {w_items} THEN 1 + (n - 1) // {WRITEOFF_ITEMS}
                    ELSE 1 + (n - {w_items} - 1) // {TRANSFER_ITEMS} END AS batch_id,
               loan_id, borrower_id, dpd, 'M7' AS bucket, 'loss' AS classification, principal_fen // 2 AS principal_fen,
               principal_fen // 50 AS interest_fen, principal_fen // 100 AS penalty_fen, 0::BIGINT AS fee_fen,
               0::BIGINT AS cost_fen, principal_fen // 2 + principal_fen // 50 + principal_fen // 100 AS balance_fen,
               principal_fen // 10 AS expected_recovery_fen, NULL::BIGINT AS price_fen
        FROM (SELECT row_number() OVER (ORDER BY loan_id) AS n, * FROM w_loans WHERE dpd > 360)
        WHERE n <= {w_items + t_items}""")

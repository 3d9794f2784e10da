"""Importing borrowers: personal data is checked, then stored encrypted with lookup digests."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import available_timezones

import pyarrow as pa
from sqlalchemy.orm import Session

from arrears.db.bulk import insert_arrow
from arrears.loans.imports import checks as chk
from arrears.loans.imports import lookup
from arrears.loans.imports.common import ImportReport, connect, good_rows, record_import, settle_errors
from arrears.loans.imports.files import read_table
from arrears.privacy import PersonalDataCipher

BORROWER_COLUMNS = ["borrower_no", "name", "id_number", "phone"]


def import_borrowers(session: Session, path: str | Path, cipher: PersonalDataCipher, *, actor: str,
                     skip_invalid: bool = False, rejects_path: Path | None = None) -> ImportReport:
    path = Path(path)
    table = read_table(path)
    chk.require_columns(table, BORROWER_COLUMNS, path.name)
    for optional in ("email", "address", "region_code", "timezone"):
        if optional not in table.column_names:
            table = table.append_column(optional, pa.nulls(table.num_rows, pa.string()))
    con = connect(table)
    existing = lookup.existing_values(session, "borrowers", "borrower_no", table.column("borrower_no"))
    con.register("existing", existing)
    con.register("zones", pa.table({"tz": sorted(available_timezones())}))
    con.execute("""CREATE VIEW src AS SELECT r.*, e.value IS NOT NULL AS in_db,
                   (r.timezone IS NULL OR z.tz IS NOT NULL) AS tz_ok
                   FROM raw r LEFT JOIN existing e ON e.value = trim(r.borrower_no)
                   LEFT JOIN zones z ON z.tz = trim(r.timezone)""")
    id_ok = f"{chk.id_number_checksum_sql('upper(trim(id_number))')} = substr(upper(trim(id_number)), 18, 1)"
    checks = [
        chk.required("borrower_no"), chk.pattern("borrower_no", chk.CODE, "may hold only letters, digits, _ and -"),
        chk.unique_in_file("borrower_no"),
        chk.Check("borrower_no", "borrower_no.unique", "already exists", "in_db"),
        chk.required("name"),
        chk.Check("name", "name.length", "is longer than 50 characters", "length(trim(name)) > 50"),
        chk.required("id_number"),
        chk.pattern("id_number", r"^[0-9]{17}[0-9Xx]$", "must be an 18-character resident ID number"),
        chk.Check("id_number", "id_number.checksum", "check digit does not match (GB 11643)",
                  f"regexp_full_match(trim(coalesce(id_number,'')), '^[0-9]{{17}}[0-9Xx]$') AND NOT ({id_ok})"),
        chk.required("phone"),
        chk.pattern("phone", r"^(1[3-9][0-9]{9}|\+[0-9]{6,20})$", "must be a mainland mobile number or +countrycode…"),
        chk.pattern("email", r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "is not an e-mail address"),
        chk.pattern("region_code", r"^[0-9]{6}$", "must be a 6-digit administrative division code"),
        chk.Check("timezone", "timezone.known", "is not a known IANA time zone", "NOT tz_ok"),
    ]
    bad, report = settle_errors("borrowers", path, table, chk.run_checks(con, checks), skip_invalid, rejects_path)
    good = good_rows(con, "src", bad)
    _insert_borrowers(session, good, cipher)
    record_import(session, actor, "borrowers", path, report)
    return report


def _insert_borrowers(session: Session, good: pa.Table, cipher: PersonalDataCipher) -> None:
    if good.num_rows == 0:
        return

    def enc(name: str, optional: bool = False) -> pa.Array:
        values = [v.strip() if v else None for v in good.column(name).to_pylist()]
        return pa.array([cipher.encrypt(v) if v else None for v in values], pa.binary())

    def digest(name: str) -> pa.Array:
        return pa.array([cipher.digest(v.strip().upper()) for v in good.column(name).to_pylist()], pa.string())

    region = [v.strip() if v else "" for v in good.column("region_code").to_pylist()]
    zone = [v.strip() if v else "Asia/Shanghai" for v in good.column("timezone").to_pylist()]
    rows = pa.table({
        "borrower_no": pa.array([v.strip() for v in good.column("borrower_no").to_pylist()]),
        "name_enc": enc("name"), "id_number_enc": enc("id_number"), "id_number_digest": digest("id_number"),
        "phone_enc": enc("phone"), "phone_digest": digest("phone"),
        "email_enc": enc("email"), "address_enc": enc("address"),
        "region_code": pa.array(region, pa.string()), "timezone": pa.array(zone, pa.string()),
        "language": pa.array(["zh-CN"] * good.num_rows, pa.string()),
        "created_at": lookup.timestamp_column(session, good.num_rows),
    })
    insert_arrow(session, "borrowers", rows)

"""`arrears bench import`: N borrowers and N loans from CSV into a fresh SQLite database (or the given
URL's database, which must be empty), schedules generated, ledger entries posted."""

from __future__ import annotations

import csv
import random
import tempfile
from datetime import date, timedelta
from pathlib import Path

from arrears.bench.common import peak_rss_bytes, stopwatch
from arrears.db.engine import make_engine, make_session_factory, unit_of_work
from arrears.db.migrate import upgrade
from arrears.loans.imports.borrowers import import_borrowers
from arrears.loans.imports.loans import import_loans
from arrears.privacy import PersonalDataCipher

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_PRODUCTS = (("consumer_loan", "equal_instalment"), ("consumer_loan", "equal_principal"),
             ("inclusive_loan", "equal_instalment"), ("internet_loan", "equal_instalment"),
             ("micro_business_loan", "interest_only"))


def _id_number(rng: random.Random) -> str:
    body = f"110101{rng.randint(1960, 2000)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS)) % 11]


def write_files(folder: Path, n: int, today: date, seed: int = 7) -> tuple[Path, Path]:
    rng = random.Random(seed)
    borrowers, loans = folder / "borrowers.csv", folder / "loans.csv"
    with borrowers.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["borrower_no", "name", "id_number", "phone"])
        for i in range(n):
            w.writerow([f"B{i:08d}", "张三", _id_number(rng), f"13{rng.randint(100000000, 999999999)}"])
    with loans.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["loan_no", "borrower_no", "product_code", "repayment_method", "principal", "annual_rate", "term",
                    "disbursed_on", "first_due_on"])
        for i in range(n):
            product, method = _PRODUCTS[i % len(_PRODUCTS)]
            disbursed = today - timedelta(days=rng.randint(30, 700))
            w.writerow([f"L{i:09d}", f"B{i:08d}", product, method, f"{rng.randint(1000, 200000)}.{rng.randint(0, 99):02d}",
                        rng.choice(("0.0435", "0.0580", "0.0720")), rng.choice((6, 12, 12, 24)),
                        disbursed.isoformat(), (disbursed + timedelta(days=30)).isoformat()])
    return borrowers, loans


def run_import_bench(n: int, database_url: str | None = None, progress=None) -> dict:  # noqa: ANN001
    today = date(2026, 11, 1)
    figures: dict = {"loans": n, "borrowers": n}
    with tempfile.TemporaryDirectory(prefix="arrears-bench-") as tmp:
        folder = Path(tmp)
        borrowers, loans = write_files(folder, n, today)
        engine = make_engine(database_url or f"sqlite:///{folder / 'bench.db'}")
        figures["database"] = engine.dialect.name
        upgrade(engine)
        factory = make_session_factory(engine)
        cipher = PersonalDataCipher(bytes(32))
        if progress:
            progress.print(f"importing {n:,} borrowers and {n:,} loans …")
        with stopwatch(figures, "import_s"):
            with stopwatch(figures, "borrowers_s"), unit_of_work(factory) as s:
                import_borrowers(s, borrowers, cipher, actor="bench")
            with stopwatch(figures, "loans_s"), unit_of_work(factory) as s:
                import_loans(s, loans, actor="bench", today=today)
        with engine.connect() as c:
            figures["instalments"] = c.exec_driver_sql("SELECT count(*) FROM instalments").scalar()
            figures["postings"] = c.exec_driver_sql("SELECT count(*) FROM postings").scalar()
        engine.dispose()
    figures["loans_per_s"] = round(n / figures["import_s"]) if figures["import_s"] else None
    figures["peak_rss_bytes"] = peak_rss_bytes()
    return figures

"""`arrears credit month-end` on an initialised data directory: the file is written and valid, the first
negative record is held back with the rule named, bad input is one line and exit 1."""

from datetime import date

from typer.testing import CliRunner
from support import add_borrower, add_loan

from arrears.cli import app
from arrears.db.engine import make_engine, make_session_factory
from arrears.delinquency.service import run_date
from arrears.delinquency.snapshots import SnapshotStore
from arrears.privacy import PersonalDataCipher
from arrears.settings import load_settings

runner = CliRunner()


def test_month_end_command_writes_a_valid_file_and_holds_the_first_negative_record(tmp_path):
    assert runner.invoke(app, ["init", "--data-dir", str(tmp_path)]).exit_code == 0
    settings = load_settings(tmp_path)
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    with factory() as s:
        add_loan(s, add_borrower(s, cipher=PersonalDataCipher(settings.secret_key)), "L1")  # never paid
        s.commit()
    run_date(factory, SnapshotStore(tmp_path / "snapshots"), date(2024, 2, 29), today=date(2024, 3, 5))
    engine.dispose()

    result = runner.invoke(app, ["credit", "month-end", "--month", "2024-02", "--date", "2024-03-05",
                                 "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "credit.notice_before_negative" in result.output and "1 notice(s) queued" in result.output
    written = tmp_path / "credit" / "credit-2024-02.jsonl"
    check = runner.invoke(app, ["credit", "validate", str(written)])
    assert check.exit_code == 0 and "0 account" in check.output  # L1 held back, nothing else to report

    for args, message in ((["--month", "2024-13"], "not a month"),
                          (["--month", "2024-03", "--date", "2024-03-05"], "has not ended")):
        bad = runner.invoke(app, ["credit", "month-end", *args, "--data-dir", str(tmp_path)])
        assert bad.exit_code == 1 and message in bad.output

"""``arrears worker --once`` with the channels of a demo data directory (SMS file, in-app, letters)."""

from __future__ import annotations

import json

from alembic import command
from typer.testing import CliRunner

from arrears.contact.cli import worker_app
from arrears.contact.outbox import queue_message
from arrears.db.engine import make_engine, make_session_factory, unit_of_work
from arrears.db.migrate import _config
from arrears.db.models import metadata
from arrears.privacy import PersonalDataCipher
from arrears.settings import load_settings


def _database(data_dir):
    settings = load_settings(data_dir)
    engine = make_engine(settings.database_url)
    metadata.create_all(engine)
    cfg = _config()
    with engine.begin() as connection:  # as if `arrears init` had run
        cfg.attributes["connection"] = connection
        command.stamp(cfg, "head")
    return settings, engine


def test_worker_once(tmp_path, monkeypatch):
    from contact_helpers import OVERDUE

    from support import add_borrower, add_small_loan

    for name in ("ARREARS_SMTP_HOST", "ARREARS_SMS_WEBHOOK_URL", "ARREARS_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings, engine = _database(tmp_path)
    cipher = PersonalDataCipher(settings.secret_key)
    with unit_of_work(make_session_factory(engine)) as s:
        b = add_borrower(s, cipher=cipher, address="上海市浦东新区世纪大道 100 号")
        loan = add_small_loan(s, b)
        # The CLI runs on the real clock: messages that quiet hours never hold (a code the borrower asked for,
        # a letter), queued at the real time.
        queue_message(s, cipher=cipher, borrower_id=b.id, channel="sms", template="one_time_code",
                      variables={"code": "4821", "valid_minutes": 10}, dedupe_key="otp:1")
        queue_message(s, cipher=cipher, borrower_id=b.id, loan_id=loan.id, channel="letter",
                      template="overdue_notice", variables=OVERDUE, dedupe_key="overdue:L1:letter")
    engine.dispose()

    result = CliRunner().invoke(worker_app, ["--data-dir", str(tmp_path), "--once"])
    assert result.exit_code == 0, result.output
    assert "claimed 2, sent 2" in result.output
    [line] = (tmp_path / "outbox" / "sms.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["dedupe_key"] == "otp:1" and "4821" in json.loads(line)["text"]
    assert len(list((tmp_path / "letters").glob("letter-*.pdf"))) == 1

    again = CliRunner().invoke(worker_app, ["--data-dir", str(tmp_path), "--once", "--channel", "sms"])
    assert again.exit_code == 0 and "claimed 0" in again.output
    bad = CliRunner().invoke(worker_app, ["--data-dir", str(tmp_path), "--once", "--channel", "fax"])
    assert bad.exit_code == 1 and "not configured here" in bad.output

"""Where things live: data directory, database URL, secret key. Read from the environment."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    secret_key: bytes

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _secret_key(data_dir: Path) -> bytes:
    """ARREARS_SECRET_KEY (hex, 32 bytes) or a key file made once in the data directory."""
    env = os.environ.get("ARREARS_SECRET_KEY")
    if env:
        key = bytes.fromhex(env)
        if len(key) != 32:
            raise ValueError("ARREARS_SECRET_KEY must be 64 hex characters (32 bytes)")
        return key
    path = data_dir / "secret.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def load_settings(data_dir: str | Path | None = None, database_url: str | None = None) -> Settings:
    """Explicit arguments win, then ARREARS_DATA_DIR / ARREARS_DATABASE_URL, then ./data with SQLite."""
    directory = Path(data_dir or os.environ.get("ARREARS_DATA_DIR") or "data").resolve()
    url = database_url or os.environ.get("ARREARS_DATABASE_URL") or f"sqlite:///{directory / 'arrears.db'}"
    return Settings(data_dir=directory, database_url=url, secret_key=_secret_key(directory))


BUSINESS_TZ = "Asia/Shanghai"


def business_date() -> date:
    """The business date: ARREARS_BUSINESS_DATE (ISO) if set, else today in Asia/Shanghai.
    Only edges (CLI, web) call this; the domain always takes the date as a parameter."""
    text = os.environ.get("ARREARS_BUSINESS_DATE", "").strip()
    if text:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"ARREARS_BUSINESS_DATE={text!r} is not an ISO date (YYYY-MM-DD)") from None
    return datetime.now(ZoneInfo(BUSINESS_TZ)).date()

"""Durable receipts for channels whose provider cannot answer "did you already get this key?" (SMTP, a folder
of letter PDFs): one small file per delivered key, written with fsync right after the delivery, and a
cross-process lock per key (flock on one of 256 stripe files) so two senders of one key never overlap."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    """Write, fsync, rename, fsync the folder: after return the file survives a crash, whole or not at all."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


class ReceiptJournal:
    """Durable record of delivered keys for channels whose provider cannot answer 'did you get this key?'.
    ``lock(key)`` serialises senders of one key across processes (256 lock stripes, flock)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        with open(self.directory / f".lock-{key_hash(key)[:2]}", "a") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def get(self, key: str) -> str | None:
        path = self.directory / f"{key_hash(key)}.json"
        return json.loads(path.read_text(encoding="utf-8"))["provider_id"] if path.exists() else None

    def put(self, key: str, provider_id: str) -> None:
        write_atomic(self.directory / f"{key_hash(key)}.json",
                     json.dumps({"provider_id": provider_id}).encode("utf-8"))

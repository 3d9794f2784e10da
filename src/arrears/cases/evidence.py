"""Evidence files of visits (photos, recordings, signed forms): a content-addressed store under
``<data_dir>/files``. A file is named by its SHA-256, written once (the same bytes twice are one file) and its
type is read from its first bytes, never trusted from the uploader; allowed types and size are policy."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from arrears.cases.policy import policy
from arrears.errors import InvalidInput, NotFound

SHA256 = re.compile(r"^[0-9a-f]{64}$")


def sniff(data: bytes) -> str | None:
    """The media type the bytes are, by their signature (None: unknown)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"ID3") or data[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[4:8] == b"ftyp":
        return "video/mp4"
    return None


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    type: str
    bytes: int

    def ref(self) -> dict:
        return {"sha256": self.sha256, "type": self.type, "bytes": self.bytes}


class EvidenceStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, sha: str) -> Path:
        return self.root / sha[:2] / sha

    def put(self, data: bytes, declared_type: str | None = None) -> StoredFile:
        rules = policy().evidence
        if not data:
            raise InvalidInput("the file is empty", field="file", rule="evidence.empty")
        if len(data) > rules.max_bytes:
            raise InvalidInput(f"at most {rules.max_bytes} bytes", field="file", rule="evidence.size")
        kind = sniff(data)
        if kind is None or kind not in rules.types:
            raise InvalidInput(f"not an allowed file type; allowed: {', '.join(rules.types)}", field="file",
                               rule="evidence.type")
        if declared_type is not None and declared_type.split(";")[0].strip() != kind:
            raise InvalidInput(f"the content is {kind}, not {declared_type}", field="content_type",
                               rule="evidence.type_mismatch")
        sha = hashlib.sha256(data).hexdigest()
        path = self._path(sha)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)  # atomic: a reader never sees half a file
        return StoredFile(sha, kind, len(data))

    def get(self, sha: str) -> StoredFile:
        if not SHA256.match(sha or ""):
            raise InvalidInput("not a SHA-256 file reference", field="evidence", rule="evidence.ref")
        path = self._path(sha)
        if not path.exists():
            raise NotFound(f"no evidence file {sha}", field="evidence", rule="evidence.exists")
        data = path.read_bytes()
        return StoredFile(sha, sniff(data) or "application/octet-stream", len(data))

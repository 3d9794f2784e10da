"""Evidence files of visits (photos, recordings, signed forms) in the content-addressed store
(``files.store``, under ``<data_dir>/files``): named by SHA-256, type read from the bytes; the allowed types
and the size limit are cases policy (``policy.yaml`` ``evidence``). Errors keep the ``evidence.*`` rule names."""

from __future__ import annotations

from pathlib import Path

from arrears.cases.policy import policy
from arrears.errors import InvalidInput
from arrears.files.store import FileStore, StoredFile


class EvidenceStore:
    def __init__(self, root: str | Path) -> None:
        self.files = FileStore(Path(root))
        self.root = self.files.root

    def put(self, data: bytes, declared_type: str | None = None) -> StoredFile:
        rules = policy().evidence
        return self.files.put(data, allowed=tuple(rules.types), max_bytes=rules.max_bytes,
                              declared_type=declared_type, rule="evidence")

    def get(self, sha: str) -> StoredFile:
        """A reference given in a visit report: malformed is bad input (422), unknown is not found (404)."""
        if len(sha or "") != 64 or any(ch not in "0123456789abcdef" for ch in sha):
            raise InvalidInput("not a SHA-256 file reference", field="evidence", rule="evidence.ref")
        return self.files.stat(sha)

"""A small content-addressed file store: files are kept under their SHA-256 (``root/ab/abcdef…``), so the
same content is stored once, a stored file cannot change without its name changing, and a reference in the
database is its own integrity check. Types are decided by the content's magic bytes, never by a file name.

Files are written before the database transaction commits; if it rolls back, the file is an orphan that no
row names — harmless, and the same content uploaded again reuses it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from arrears.errors import InvalidInput, NotFound

# Leading bytes of each type we accept (PDF 1.x/2.0, JPEG/JFIF/EXIF, PNG).
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
}


def sniff(data: bytes) -> str | None:
    """The media type the content says it is, or None."""
    for media_type, signatures in SIGNATURES.items():
        if any(data.startswith(s) for s in signatures):
            return media_type
    return None


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    media_type: str
    size: int


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(ch not in "0123456789abcdef" for ch in sha256):
            raise NotFound("no such file", field="sha256", rule="file.exists")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes, *, allowed: tuple[str, ...], max_bytes: int, field: str = "file") -> StoredFile:
        """Stores ``data`` if its content is one of ``allowed`` types and at most ``max_bytes`` long."""
        if not data:
            raise InvalidInput("the file is empty", field=field, rule="file.empty")
        if len(data) > max_bytes:
            raise InvalidInput(f"the file is {len(data)} bytes; at most {max_bytes} are accepted", field=field,
                               rule="file.too_large")
        media_type = sniff(data)
        if media_type not in allowed:
            raise InvalidInput(f"the file's content is not one of {', '.join(allowed)} (checked by its bytes, "
                               "not its name)", field=field, rule="file.type")
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                os.replace(tmp, target)  # atomic: readers never see half a file
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return StoredFile(digest, media_type, len(data))

    def get(self, sha256: str) -> bytes:
        """The content, verified against its name (a file altered on disk is refused)."""
        path = self.path(sha256)
        if not path.exists():
            raise NotFound("no such file", field="sha256", rule="file.exists")
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise InvalidInput("the stored file does not match its hash (altered)", field="sha256",
                               rule="file.integrity")
        return data

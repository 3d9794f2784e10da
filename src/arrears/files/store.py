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

# Leading bytes of each type we know (PDF 1.x/2.0, JPEG/JFIF/EXIF, PNG, MP3 with or without ID3). Which of them
# a use case accepts is its own policy (``allowed``).
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "audio/mpeg": (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"),
}


def sniff(data: bytes) -> str | None:
    """The media type the content says it is, or None."""
    for media_type, signatures in SIGNATURES.items():
        if any(data.startswith(s) for s in signatures):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[4:8] == b"ftyp":  # ISO base media: the box size comes first
        return "video/mp4"
    return None


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    media_type: str
    size: int

    def ref(self) -> dict:
        """How a row refers to the file (visit reports keep these in their JSON)."""
        return {"sha256": self.sha256, "type": self.media_type, "bytes": self.size}


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(ch not in "0123456789abcdef" for ch in sha256):
            raise NotFound("no such file", field="sha256", rule="file.exists")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes, *, allowed: tuple[str, ...] | list[str], max_bytes: int, field: str = "file",
            declared_type: str | None = None, rule: str = "file") -> StoredFile:
        """Stores ``data`` if its content is one of ``allowed`` types and at most ``max_bytes`` long, and (if the
        uploader declared a type) is what it was declared to be. ``rule`` prefixes the rule names of errors."""
        if not data:
            raise InvalidInput("the file is empty", field=field, rule=f"{rule}.empty")
        if len(data) > max_bytes:
            raise InvalidInput(f"the file is {len(data)} bytes; at most {max_bytes} are accepted", field=field,
                               rule=f"{rule}.too_large")
        media_type = sniff(data)
        if media_type is None or media_type not in allowed:
            raise InvalidInput(f"the file's content is not one of {', '.join(allowed)} (checked by its bytes, "
                               "not its name)", field=field, rule=f"{rule}.type")
        if declared_type is not None and declared_type.split(";")[0].strip() != media_type:
            raise InvalidInput(f"the content is {media_type}, not {declared_type}", field="content_type",
                               rule=f"{rule}.type_mismatch")
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

    def stat(self, sha256: str) -> StoredFile:
        """What a stored file is (read and verified like ``get``)."""
        data = self.get(sha256)
        return StoredFile(sha256, sniff(data) or "application/octet-stream", len(data))

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

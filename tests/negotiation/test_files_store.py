"""The content-addressed file store: type by magic bytes, size limit, one copy per content, integrity."""

from __future__ import annotations

import hashlib

import pytest

from arrears.errors import InvalidInput
from arrears.files.store import FileStore, sniff

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 20
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 20
ALLOWED = ("application/pdf", "image/jpeg", "image/png")


@pytest.mark.parametrize("data, media_type", [(PDF, "application/pdf"), (PNG, "image/png"),
                                              (JPEG, "image/jpeg"), (b"MZ\x90\x00", None), (b"GIF89a", None)])
def test_type_comes_from_the_content(data, media_type):
    assert sniff(data) == media_type


def test_same_content_is_stored_once_under_its_sha256_and_read_back_verified(tmp_path):
    store = FileStore(tmp_path)
    a = store.put(PDF, allowed=ALLOWED, max_bytes=1000)
    b = store.put(PDF, allowed=ALLOWED, max_bytes=1000)
    assert a == b and a.sha256 == hashlib.sha256(PDF).hexdigest() and a.media_type == "application/pdf"
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [a.sha256]
    assert store.get(a.sha256) == PDF
    store.path(a.sha256).write_bytes(PDF + b"tampered")
    with pytest.raises(InvalidInput) as err:
        store.get(a.sha256)
    assert err.value.rule == "file.integrity"


@pytest.mark.parametrize("data, rule", [
    (b"", "file.empty"), (PDF + b"x" * 2000, "file.too_large"),
    (b"MZ\x90\x00 an executable named evidence.pdf", "file.type"), (b"GIF89a....", "file.type"),
])
def test_empty_oversized_or_unsupported_files_are_refused_and_nothing_is_written(tmp_path, data, rule):
    with pytest.raises(InvalidInput) as err:
        FileStore(tmp_path).put(data, allowed=ALLOWED, max_bytes=1000)
    assert err.value.rule == rule and err.value.field == "file"
    assert not any(p.is_file() for p in tmp_path.rglob("*"))

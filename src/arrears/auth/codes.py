"""One-time codes shared by portal sign-in (``auth.one_time``) and agreement signing (``agreements.signing``):
a random numeric code shown once (it goes out through the outbox), stored only as a keyed HMAC digest bound to
what it is for, so a leaked table cannot be replayed and a code for one purpose never works for another."""

from __future__ import annotations

import secrets

from arrears.privacy import PersonalDataCipher


def new_code(digits: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(digits))


def code_digest(cipher: PersonalDataCipher, purpose: str, subject: int | str, code: str) -> str:
    """The keyed digest of ``code`` for ``purpose`` (e.g. ``agreement-code``) and its subject's id."""
    return cipher.digest(f"{purpose}:{subject}:{str(code).strip()}")


def code_matches(stored_digest: str, cipher: PersonalDataCipher, purpose: str, subject: int | str, code: str) -> bool:
    """Constant-time comparison of a typed code with the stored digest."""
    return secrets.compare_digest(stored_digest, code_digest(cipher, purpose, subject, code))

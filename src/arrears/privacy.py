"""Personal data at rest: AES-GCM encryption, keyed digests for exact lookup, and masking for display.

The key comes from settings (ARREARS_SECRET_KEY or the data directory's key file). Encryption and
digest use separate subkeys derived from it, so a digest reveals nothing about the ciphertext key.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE = 12


class PersonalDataCipher:
    def __init__(self, secret_key: bytes) -> None:
        self._aead = AESGCM(hashlib.sha256(b"arrears/encrypt/" + secret_key).digest())
        self._digest_key = hashlib.sha256(b"arrears/digest/" + secret_key).digest()

    def encrypt(self, text: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, text.encode("utf-8"), None)

    def decrypt(self, blob: bytes) -> str:
        return self._aead.decrypt(blob[:_NONCE], blob[_NONCE:], None).decode("utf-8")

    def digest(self, text: str) -> str:
        """A keyed digest for exact-match lookups (ID number, phone) without decrypting."""
        return hmac.new(self._digest_key, text.strip().encode("utf-8"), hashlib.sha256).hexdigest()


def mask_name(name: str) -> str:
    """张三 -> 张*, 欧阳娜娜 -> 欧**娜."""
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_id_number(id_number: str) -> str:
    """110101199003071234 -> 1101**********1234."""
    if len(id_number) <= 8:
        return "*" * len(id_number)
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]


def mask_phone(phone: str) -> str:
    """13812345678 -> 138****5678."""
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return (local[:1] + "***@" + domain) if domain else "***"

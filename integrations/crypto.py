"""Field-level encryption of credentials with MultiFernet.

Keys come from FIELD_ENCRYPTION_KEYS: the first key encrypts, every key decrypts, so a new key
can be put in front while rows encrypted with older keys still read. `manage.py rotate_keys`
then re-encrypts every stored secret with the first key, after which old keys can be dropped.
https://cryptography.io/en/latest/fernet/#cryptography.fernet.MultiFernet
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from config.logging import register_secret

# Stored values start with this marker so a plaintext that slipped in (a bug, a raw SQL
# insert) is told apart from ciphertext instead of failing to decrypt.
PREFIX = "fernet:"


@lru_cache(maxsize=4)
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe base64 bytes)"
        ) from exc


def fernet() -> MultiFernet:
    return _multifernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return PREFIX + fernet().encrypt(plaintext.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        raise ValueError("stored credential is not encrypted")
    try:
        value = fernet().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "A stored credential cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS; "
            "was a key removed before `manage.py rotate_keys` ran?"
        ) from None
    register_secret(value)
    return value


def rotate(stored: str) -> str:
    """Re-encrypt with the first key. Safe on a value already rotated (it is re-encrypted again)."""
    return PREFIX + fernet().rotate(stored[len(PREFIX) :].encode()).decode()


def is_current(stored: str) -> bool:
    """True when the first key decrypts the value, i.e. rotation has nothing left to do."""
    try:
        Fernet(settings.FIELD_ENCRYPTION_KEYS[0].encode()).decrypt(stored[len(PREFIX) :].encode())
    except InvalidToken:
        return False
    return True


class EncryptedTextField(models.TextField):
    """A text column whose value is stored encrypted; reads return the plaintext.

    Empty string means "no secret". The plaintext lives only in memory; querying by value is
    impossible by design.
    """

    def from_db_value(self, value, expression, connection):
        if not value:
            return ""
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return ""
        return encrypt(value)

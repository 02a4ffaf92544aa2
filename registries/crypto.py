"""Encrypt registry credentials at rest with the keys from settings."""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "PORTAL_CREDENTIALS_KEY must be one or more comma-separated Fernet keys."
        ) from exc


def encrypt(plaintext: str) -> str:
    if not plaintext:
        return ""
    return (
        _fernet(tuple(settings.CREDENTIALS_KEYS)).encrypt(plaintext.encode()).decode()
    )


def decrypt(token: str) -> str:
    """Return the plaintext; raise ``ValueError`` if no configured key opens it."""
    if not token:
        return ""
    try:
        return (
            _fernet(tuple(settings.CREDENTIALS_KEYS)).decrypt(token.encode()).decode()
        )
    except InvalidToken:
        raise ValueError(
            "Stored credentials cannot be decrypted with the configured keys."
        ) from None

"""Mint and hash the portal's bearer secrets: API tokens, registry tokens, robots.

Only a SHA-256 of a secret is stored; its first ``SHOWN_CHARS`` characters are
kept in clear so that people can recognise their tokens in a list.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

SHOWN_CHARS = 12


def hash_secret(secret: str) -> str:
    """Return the stored form of ``secret`` (any string, even a malformed one)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class MintedSecret:
    """A new secret, shown once, with what is stored of it."""

    secret: str
    hash: str
    shown: str


def mint_secret(prefix: str) -> MintedSecret:
    """Return a new random secret starting with ``prefix`` (which names its kind)."""
    secret = prefix + secrets.token_urlsafe(32)
    return MintedSecret(secret, hash_secret(secret), secret[:SHOWN_CHARS])

"""API tokens: create, find by key, list and revoke, each write audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from portal.keys import hash_secret, mint_secret
from portal.models import ApiToken
from portal.services import audit_record

KEY_PREFIX = "ptl_"
# Writing last_used_at on every request would turn each read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class NewToken:
    """A freshly created token and its key, which is never available again."""

    token: ApiToken
    key: str


@transaction.atomic
def api_token_create(
    *, acting_user, user, name: str, expires_at: datetime | None = None
) -> NewToken:
    """Create a token for ``user`` and return it with its one-time key."""
    minted = mint_secret(KEY_PREFIX)
    key = minted.secret
    token = ApiToken(
        user=user,
        name=name.strip(),
        prefix=minted.shown,
        key_hash=minted.hash,
        expires_at=expires_at,
    )
    token.full_clean()
    token.save()
    audit_record(
        actor=acting_user,
        action="api_token.create",
        obj=token,
        changes={
            "user": [None, user.get_username()],
            "name": [None, token.name],
            "expires_at": [None, expires_at.isoformat() if expires_at else None],
        },
    )
    return NewToken(token=token, key=key)


@transaction.atomic
def api_token_revoke(*, acting_user, token: ApiToken) -> None:
    audit_record(
        actor=acting_user,
        action="api_token.revoke",
        obj=token,
        changes={"user": [token.user.get_username(), None]},
    )
    token.delete()


def api_tokens_for_user(user) -> QuerySet[ApiToken]:
    """Return ``user``'s own tokens, newest first."""
    if not user.is_authenticated:
        return ApiToken.objects.none()
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


def api_token_for_owner(user, pk) -> ApiToken:
    """Return one of ``user``'s tokens; 404 for anyone else's, never a hint."""
    token = (
        api_tokens_for_user(user).filter(pk=pk).first() if str(pk).isdigit() else None
    )
    if token is None:
        raise Http404("No such token.")
    return token


def api_token_for_key(key: str) -> ApiToken | None:
    """Return the live token whose key is ``key`` (not expired), with its user."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=hash_secret(key))
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token

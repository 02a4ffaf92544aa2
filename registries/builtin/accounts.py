"""Who is asking the token service, and what that account may do.

Basic credentials name a robot (``robot$<project>+<name>`` and its token), a
portal user with one of their access tokens, or a portal user with their
password. Failed attempts are counted per username and address in the cache
and paused after ``BUILTIN_REGISTRY_AUTH_MAX_FAILURES``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.cache import cache
from django.utils import timezone

from portal.keys import hash_secret
from portal.models import Membership, Project
from portal.selectors import is_portal_admin
from registries.builtin.models import (
    ROBOT_PREFIX,
    PersonalAccessToken,
    RobotAccount,
)
from registries.builtin.scopes import PULL, ROLE_ACTIONS, Grants

# Writing last_used_at on every token request would turn each pull into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Account:
    """A resolved caller: the token's subject, its kind and its grants."""

    subject: str
    kind: str  # "anonymous", "user", "token", "robot" or "system"
    grants: Grants = field(default_factory=Grants)


ANONYMOUS = Account(subject="", kind="anonymous")


def grants_for_user(user, *, ceiling: frozenset[str] | None = None) -> Grants:
    """Return a user's grants: by role per project; portal admins admin everywhere."""
    if is_portal_admin(user):
        slugs = Project.objects.values_list("slug", flat=True)
        projects = {slug: ROLE_ACTIONS["admin"] for slug in slugs}
    else:
        memberships = Membership.objects.filter(user=user).values_list(
            "project__slug", "role"
        )
        projects = {
            slug: ROLE_ACTIONS.get(role, frozenset()) for slug, role in memberships
        }
    return Grants(projects=projects, catalog=is_portal_admin(user), ceiling=ceiling)


def grants_for_robot(robot: RobotAccount) -> Grants:
    """Return a robot's grants: its project only, or pull everywhere for the crawler."""
    if robot.is_system:
        slugs = Project.objects.values_list("slug", flat=True)
        return Grants(
            projects={slug: frozenset({PULL}) for slug in slugs}, catalog=True
        )
    actions = frozenset(robot.scope.split(","))
    return Grants(projects={robot.project.slug: actions})


def _touch(model, obj) -> None:
    now = timezone.now()
    if obj.last_used_at is None or now - obj.last_used_at > LAST_USED_RESOLUTION:
        model.objects.filter(pk=obj.pk).update(last_used_at=now)


def _robot(username: str, secret: str) -> Account | None:
    robot = (
        RobotAccount.objects.active()
        .select_related("project")
        .filter(token_hash=hash_secret(secret))
        .first()
    )
    if robot is None or robot.username != username:
        return None
    _touch(RobotAccount, robot)
    kind = "system" if robot.is_system else "robot"
    return Account(subject=robot.username, kind=kind, grants=grants_for_robot(robot))


def _personal_token(username: str, secret: str) -> Account | None:
    token = (
        PersonalAccessToken.objects.active()
        .select_related("user")
        .filter(token_hash=hash_secret(secret), user__username=username)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    _touch(PersonalAccessToken, token)
    ceiling = frozenset(token.scope.split(","))
    return Account(
        subject=token.user.get_username(),
        kind="token",
        grants=grants_for_user(token.user, ceiling=ceiling),
    )


def authenticate_basic(request, username: str, secret: str) -> Account | None:
    """Return the account these credentials open, or None."""
    if not username or not secret:
        return None
    if username.startswith(ROBOT_PREFIX):
        return _robot(username, secret)
    account = _personal_token(username, secret)
    if account is not None:
        return account
    user = authenticate(request, username=username, password=secret)
    if user is None or not user.is_active:
        return None
    return Account(
        subject=user.get_username(), kind="user", grants=grants_for_user(user)
    )


# -- throttling -----------------------------------------------------------------------


def _throttle_key(username: str, address: str) -> str:
    digest = hashlib.sha256(f"{username.lower()}\0{address}".encode()).hexdigest()
    return f"portolan:builtin-token-failures:{digest[:40]}"


def _address_key(address: str) -> str:
    digest = hashlib.sha256(address.encode()).hexdigest()
    return f"portolan:builtin-token-failures-from:{digest[:40]}"


def throttled_by(username: str, address: str) -> str | None:
    """Say why a sign-in must wait: "account" (this username from this address),
    "address" (failures from this address whatever the username), or None."""
    account_key, address_key = _throttle_key(username, address), _address_key(address)
    failures = cache.get_many([account_key, address_key])
    if failures.get(account_key, 0) >= settings.BUILTIN_REGISTRY_AUTH_MAX_FAILURES:
        return "account"
    limit = settings.BUILTIN_REGISTRY_AUTH_MAX_FAILURES_PER_ADDRESS
    if failures.get(address_key, 0) >= limit:
        return "address"
    return None


def _count(key: str) -> int:
    timeout = settings.BUILTIN_REGISTRY_AUTH_LOCKOUT_SECONDS
    if cache.add(key, 1, timeout):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout)
        return 1


def record_failure(username: str, address: str) -> int:
    """Count one failed sign-in; the counts expire after the lockout period.

    Failures are counted per (username, address) and per address whatever the
    username, so one password tried on many users is slowed down too. Returns
    the per-(username, address) count.
    """
    _count(_address_key(address))
    return _count(_throttle_key(username, address))


def clear_failures(username: str, address: str) -> None:
    cache.delete(_throttle_key(username, address))

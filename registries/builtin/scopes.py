"""Parse registry token scopes and intersect them with what an account may do.

Pure functions with no Django: the grammar is the distribution token spec's
(``type[(class)]:name:action[,action...]``, several scopes space-separated).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from registries.addresses import PATH_COMPONENT

PULL = "pull"
PUSH = "push"
DELETE = "delete"
WILDCARD = "*"
REPOSITORY = "repository"
REGISTRY = "registry"
CATALOG = "catalog"
# The order actions are written in answers, whatever order they were asked in.
ACTION_ORDER = (PULL, PUSH, DELETE, WILDCARD)

ROLE_ACTIONS: Mapping[str, frozenset[str]] = {
    "admin": frozenset({PULL, PUSH, DELETE}),
    "member": frozenset({PULL, PUSH}),
    "viewer": frozenset({PULL}),
}

# Bounds that keep one request cheap; real clients ask for a handful of scopes.
MAX_SCOPES = 50
MAX_SCOPE_LENGTH = 512

_TYPE = re.compile(r"^([a-z0-9]+)(?:\(([a-z0-9]+)\))?$")
_ACTION = re.compile(r"^(?:[a-z]+|\*)$")
# One path component, per the distribution reference grammar (shared definition).
_COMPONENT = PATH_COMPONENT.pattern.removeprefix("^").removesuffix("$")
_HOST = (
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
)
REPOSITORY_NAME = re.compile(rf"^(?:{_HOST}/)?{_COMPONENT}(?:/{_COMPONENT})*$")


class ScopeError(ValueError):
    """A scope string that does not follow the grammar."""


@dataclass(frozen=True)
class Scope:
    """One requested resource and the actions asked for it."""

    type: str
    name: str
    actions: frozenset[str]

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(ordered(self.actions))}"


@dataclass(frozen=True)
class Access:
    """One entry of a token's ``access`` claim."""

    type: str
    name: str
    actions: tuple[str, ...]

    def claim(self) -> dict:
        return {"type": self.type, "name": self.name, "actions": list(self.actions)}

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


@dataclass(frozen=True)
class Grants:
    """What one account may do: actions per project slug, and the catalog.

    ``ceiling`` bounds every project's actions (an access token limited to pull,
    say); ``None`` means no bound beyond the roles.
    """

    projects: Mapping[str, frozenset[str]] = field(default_factory=dict)
    catalog: bool = False
    ceiling: frozenset[str] | None = None

    def actions_for(self, repository: str) -> frozenset[str]:
        """Return what may be done to ``repository`` (``<project>/...`` only)."""
        project, slash, rest = repository.partition("/")
        if not slash or not rest:
            return frozenset()
        allowed = self.projects.get(project, frozenset())
        if self.ceiling is not None:
            allowed &= self.ceiling
        return allowed


def ordered(actions: Iterable[str]) -> tuple[str, ...]:
    """Return ``actions`` in the canonical order, unknown ones last, sorted."""
    known = [a for a in ACTION_ORDER if a in actions]
    return tuple(known + sorted(set(actions) - set(ACTION_ORDER)))


def parse_scope(text: str) -> Scope:
    """Parse one ``type:name:actions`` scope or raise ``ScopeError``."""
    if len(text) > MAX_SCOPE_LENGTH:
        raise ScopeError(f"A scope is longer than {MAX_SCOPE_LENGTH} characters.")
    # The name may hold a host with a port: split the type off the front and
    # the actions off the back.
    type_part, sep1, rest = text.partition(":")
    name, sep2, action_part = rest.rpartition(":")
    if not (sep1 and sep2 and type_part and name):
        raise ScopeError(f"“{text}” is not a scope of the form type:name:actions.")
    type_match = _TYPE.match(type_part)
    if type_match is None:
        raise ScopeError(f"“{type_part}” is not a valid resource type.")
    actions = frozenset(a for a in action_part.split(",") if a)
    bad = sorted(a for a in actions if not _ACTION.match(a))
    if bad:
        raise ScopeError(f"“{', '.join(bad)}” is not a valid action in “{text}”.")
    resource_type = type_match.group(1)
    if resource_type == REPOSITORY and not REPOSITORY_NAME.match(name):
        raise ScopeError(f"“{name}” is not a valid repository name.")
    return Scope(type=resource_type, name=name, actions=actions)


def parse_scopes(values: Iterable[str]) -> list[Scope]:
    """Parse every scope in ``values`` (each may hold several, space-separated).

    Scopes naming the same resource are merged, so the answer lists it once.
    """
    merged: dict[tuple[str, str], set[str]] = {}
    count = 0
    for value in values:
        for text in value.split():
            count += 1
            if count > MAX_SCOPES:
                raise ScopeError(f"Ask for at most {MAX_SCOPES} scopes at once.")
            scope = parse_scope(text)
            merged.setdefault((scope.type, scope.name), set()).update(scope.actions)
    return [
        Scope(type=type_, name=name, actions=frozenset(actions))
        for (type_, name), actions in merged.items()
    ]


def intersect(grants: Grants, scopes: Iterable[Scope]) -> list[Access]:
    """Return what ``grants`` allows of ``scopes``; resources with nothing are left out.

    ``*`` on a repository asks for everything the account may do there. The
    catalog is all or nothing.
    """
    answer = []
    for scope in scopes:
        granted: frozenset[str] = frozenset()
        if scope.type == REPOSITORY:
            allowed = grants.actions_for(scope.name)
            wanted = allowed if WILDCARD in scope.actions else scope.actions
            granted = wanted & allowed
        elif scope.type == REGISTRY and scope.name == CATALOG:
            if grants.catalog and WILDCARD in scope.actions:
                granted = frozenset({WILDCARD})
        if granted:
            answer.append(Access(scope.type, scope.name, ordered(granted)))
    return answer

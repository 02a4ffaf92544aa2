"""Scope parsing and the intersection of asked and allowed access (no database)."""

from __future__ import annotations

import pytest

from registries.builtin.scopes import (
    ROLE_ACTIONS,
    Access,
    Grants,
    Scope,
    ScopeError,
    intersect,
    parse_scope,
    parse_scopes,
)

MEMBER_OF_A = Grants(projects={"team-a": ROLE_ACTIONS["member"]})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "repository:team-a/app:pull,push",
            Scope("repository", "team-a/app", frozenset({"pull", "push"})),
        ),
        (
            "repository:team-a/sub/app:delete",
            Scope("repository", "team-a/sub/app", frozenset({"delete"})),
        ),
        # A name with a registry host and port keeps its colons.
        (
            "repository:localhost:5000/team-a/app:pull",
            Scope("repository", "localhost:5000/team-a/app", frozenset({"pull"})),
        ),
        ("registry:catalog:*", Scope("registry", "catalog", frozenset({"*"}))),
        # A resource class is accepted and dropped.
        (
            "repository(plugin):team-a/app:pull",
            Scope("repository", "team-a/app", frozenset({"pull"})),
        ),
        ("repository:team-a/app:", Scope("repository", "team-a/app", frozenset())),
    ],
)
def test_parse_scope(text, expected):
    assert parse_scope(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "repository",
        "repository:team-a/app",
        ":team-a/app:pull",
        "repository::pull",
        "Repository:team-a/app:pull",
        "repository:team-a/App:pull",
        "repository:team-a//app:pull",
        "repository:team-a/app:pull,PUSH",
        "repository:team-a/app:pu ll",
        "repository:" + "a" * 600 + ":pull",
    ],
)
def test_parse_scope_refuses_malformed(text):
    with pytest.raises(ScopeError):
        parse_scopes([text])


def test_parse_scopes_splits_spaces_and_merges_repeats():
    scopes = parse_scopes(
        [
            "repository:team-a/app:pull repository:team-b/x:pull",
            "repository:team-a/app:push",
        ]
    )
    assert scopes == [
        Scope("repository", "team-a/app", frozenset({"pull", "push"})),
        Scope("repository", "team-b/x", frozenset({"pull"})),
    ]


def test_parse_scopes_bounds_the_count():
    with pytest.raises(ScopeError, match="at most"):
        parse_scopes([" ".join(f"repository:team-a/r{i}:pull" for i in range(51))])


def test_member_gets_pull_push_in_own_project_and_nothing_elsewhere():
    scopes = parse_scopes(
        [
            "repository:team-a/app:pull,push,delete",
            "repository:team-b/app:pull",
            "registry:catalog:*",
        ]
    )
    assert intersect(MEMBER_OF_A, scopes) == [
        Access("repository", "team-a/app", ("pull", "push"))
    ]


def test_viewer_gets_only_pull():
    viewer = Grants(projects={"team-a": ROLE_ACTIONS["viewer"]})
    scopes = parse_scopes(["repository:team-a/app:push,pull"])
    assert intersect(viewer, scopes) == [Access("repository", "team-a/app", ("pull",))]


def test_admin_may_delete_and_wildcard_means_everything_allowed():
    admin = Grants(projects={"team-a": ROLE_ACTIONS["admin"]})
    scopes = parse_scopes(["repository:team-a/app:*"])
    assert intersect(admin, scopes) == [
        Access("repository", "team-a/app", ("pull", "push", "delete"))
    ]


def test_repositories_live_under_the_project_slug_only():
    scopes = parse_scopes(
        [
            "repository:team-a:pull",  # the slug alone is not a repository
            "repository:team-ab/app:pull",  # a different project sharing a prefix
            "repository:localhost:5000/team-a/app:pull",  # host-qualified
            "repository:team-a/app:pull",
        ]
    )
    assert intersect(MEMBER_OF_A, scopes) == [
        Access("repository", "team-a/app", ("pull",))
    ]


def test_ceiling_bounds_the_roles():
    token = Grants(
        projects={"team-a": ROLE_ACTIONS["admin"]}, ceiling=frozenset({"pull"})
    )
    scopes = parse_scopes(["repository:team-a/app:pull,push,delete"])
    assert intersect(token, scopes) == [Access("repository", "team-a/app", ("pull",))]


def test_catalog_only_with_the_catalog_grant():
    scopes = parse_scopes(["registry:catalog:*"])
    assert intersect(Grants(catalog=True), scopes) == [
        Access("registry", "catalog", ("*",))
    ]
    assert intersect(Grants(), scopes) == []
    # Only the catalog resource, and only as a whole.
    other = parse_scopes(["registry:other:*", "registry:catalog:pull"])
    assert intersect(Grants(catalog=True), other) == []


def test_unknown_actions_and_types_are_left_out_not_errors():
    scopes = parse_scopes(["repository:team-a/app:pull,frobnicate", "plugin:x:pull"])
    assert intersect(MEMBER_OF_A, scopes) == [
        Access("repository", "team-a/app", ("pull",))
    ]


def test_access_claim_shape():
    entry = Access("repository", "team-a/app", ("pull", "push"))
    assert entry.claim() == {
        "type": "repository",
        "name": "team-a/app",
        "actions": ["pull", "push"],
    }
    assert str(entry) == "repository:team-a/app:pull,push"

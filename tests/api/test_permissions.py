"""The pages' permission matrix, repeated over every API endpoint.

Personas (tests/conftest.py): portal admin; admin, member and viewer of project
A ("team-a"); admin of project B (an outsider to A); and anonymous. Outsiders get
404 (never a hint that something exists), members without the role 403,
anonymous callers 401. A refused write leaves no trace in the audit log.
"""

from __future__ import annotations

import pytest

from tests.api.conftest import assert_error

WHO = ("portal_admin", "project_admin", "member", "viewer", "other_admin", None)


def _row(method, path, body, *codes):
    return pytest.param(
        method, path, body, dict(zip(WHO, codes, strict=True)), id=f"{method} {path}"
    )


# Status per persona, in the order of WHO.
MATRIX = [
    # The schema and its docs describe the API to anyone; they hold no data.
    _row("get", "/api/v1/schema/", None, *[200] * 6),
    _row("get", "/api/v1/docs/", None, *[200] * 6),
    _row("get", "/api/v1/me/", None, 200, 200, 200, 200, 200, 401),
    _row("get", "/api/v1/projects/", None, 200, 200, 200, 200, 200, 401),
    _row("post", "/api/v1/projects/", {"name": "Team C"}, 201, 403, 403, 403, 403, 401),
    _row("get", "/api/v1/projects/team-a/", None, 200, 200, 200, 200, 404, 401),
    _row("delete", "/api/v1/projects/team-a/", None, 204, 403, 403, 403, 404, 401),
    _row("get", "/api/v1/projects/team-a/members/", None, 200, 200, 200, 200, 404, 401),
    _row(
        "post",
        "/api/v1/projects/team-a/members/",
        {"username": "dave", "role": "viewer"},
        201,
        201,
        403,
        403,
        404,
        401,
    ),
    _row(
        "get",
        "/api/v1/projects/team-a/members/bob/",
        None,
        200,
        200,
        200,
        200,
        404,
        401,
    ),
    _row(
        "patch",
        "/api/v1/projects/team-a/members/bob/",
        {"role": "viewer"},
        200,
        200,
        403,
        403,
        404,
        401,
    ),
    _row(
        "delete",
        "/api/v1/projects/team-a/members/carol/",
        None,
        204,
        204,
        403,
        403,
        404,
        401,
    ),
    _row("get", "/api/v1/registries/", None, 200, 200, 200, 200, 200, 401),
    _row(
        "get", "/api/v1/registries/?project=team-a", None, 200, 200, 200, 200, 404, 401
    ),
    _row(
        "post",
        "/api/v1/registries/",
        {"name": "New global", "address": "new.example.com"},
        201,
        403,
        403,
        403,
        403,
        401,
    ),
    _row(
        "post",
        "/api/v1/registries/?project=team-a",
        {"name": "New A", "address": "new.example.com", "namespace": "team-a"},
        201,
        201,
        403,
        403,
        404,
        401,
    ),
    _row("get", "/api/v1/registries/{a}/", None, 200, 200, 200, 200, 404, 401),
    _row("get", "/api/v1/registries/{global}/", None, 200, 200, 200, 200, 200, 401),
    _row("get", "/api/v1/registries/{b}/", None, 200, 404, 404, 404, 200, 401),
    _row(
        "patch",
        "/api/v1/registries/{a}/",
        {"name": "Renamed"},
        200,
        200,
        403,
        403,
        404,
        401,
    ),
    _row(
        "patch",
        "/api/v1/registries/{global}/",
        {"name": "Renamed"},
        200,
        403,
        403,
        403,
        403,
        401,
    ),
    _row("delete", "/api/v1/registries/{a}/", None, 204, 204, 403, 403, 404, 401),
    _row("delete", "/api/v1/registries/{global}/", None, 204, 403, 403, 403, 403, 401),
    _row("post", "/api/v1/registries/{a}/disable/", None, 200, 200, 403, 403, 404, 401),
    _row("post", "/api/v1/registries/{a}/enable/", None, 200, 200, 403, 403, 404, 401),
    _row(
        "post",
        "/api/v1/registries/{global}/disable/",
        None,
        200,
        403,
        403,
        403,
        403,
        401,
    ),
    _row(
        "post",
        "/api/v1/registries/{closed}/verify/",
        None,
        200,
        200,
        403,
        403,
        404,
        401,
    ),
    # Allowed callers get past the permission check to a 400: nothing to trust.
    _row(
        "post",
        "/api/v1/registries/{closed}/trust-certificate/",
        {"sha256": "00" * 32},
        400,
        400,
        403,
        403,
        404,
        401,
    ),
    _row("get", "/api/v1/registries/{a}/crawls/", None, 200, 200, 200, 200, 404, 401),
    _row("get", "/api/v1/registries/{global}/crawls/", None, *[200] * 5, 401),
    _row("post", "/api/v1/registries/{a}/crawl/", None, 202, 202, 403, 403, 404, 401),
    _row("post", "/api/v1/registries/{global}/crawl/", None, 202, *[403] * 4, 401),
    _row("get", "/api/v1/search/?project=team-a", None, 200, 200, 200, 200, 404, 401),
    _row("get", "/api/v1/search/?registry={a}", None, 400, 400, 400, 400, 400, 401),
    _row(
        "get",
        "/api/v1/search/?project=team-a&registry={a}",
        None,
        200,
        200,
        200,
        200,
        404,
        401,
    ),
    _row(
        "get",
        "/api/v1/registries/{a}/repositories/team-a/app/?project=team-b",
        None,
        404,
        404,
        404,
        404,
        404,
        401,
    ),
    _row("get", "/api/v1/audit/", None, 200, 403, 403, 403, 403, 401),
    _row(
        "post",
        "/api/v1/access-check/",
        {"project": "team-a", "image": "nginx", "require_exists": False},
        200,
        200,
        200,
        200,
        404,
        401,
    ),
]


@pytest.fixture
def world(personas, make_user, global_registry, registry_a, registry_b, project_a):
    """Registry entries the paths refer to, and a user to add as a member."""
    from registries.services import registry_create

    make_user("dave")
    closed = registry_create(
        acting_user=personas["project_admin"],
        project=project_a,
        name="Closed port",
        address="http://127.0.0.1:9",
        allow_plain_http=True,
    )
    return {
        "a": registry_a.pk,
        "b": registry_b.pk,
        "global": global_registry.pk,
        "closed": closed.pk,
    }


@pytest.mark.django_db
@pytest.mark.parametrize("who", WHO, ids=lambda w: w or "anonymous")
@pytest.mark.parametrize(("method", "path", "body", "expected"), MATRIX)
def test_permission_matrix(api_as, world, who, method, path, body, expected):
    from portal.models import AuditEntry

    client = api_as(who)
    audit_before = AuditEntry.objects.count()
    url = path.format(**world)
    if method in {"post", "patch"}:
        response = getattr(client, method)(url, body)
    else:
        response = getattr(client, method)(url)
    status = expected[who]
    if status >= 400:
        error = assert_error(response, status)
        if status == 401:
            assert response["WWW-Authenticate"] == "Token"
        # Refused: nothing was written.
        assert AuditEntry.objects.count() == audit_before, error
    else:
        assert response.status_code == status, response.content[:400]
        # Verify and access checks are readings, enabling an enabled entry a no-op.
        readings = ("verify", "access-check", "/enable/")
        if method != "get" and not any(word in url for word in readings):
            assert AuditEntry.objects.count() > audit_before


@pytest.mark.django_db
def test_lists_show_only_what_the_user_may_see(api_as, world):
    ids = {
        who: {
            row["id"]
            for row in api_as(who)
            .get("/api/v1/registries/?project=team-b")
            .json()
            .get("results", [])
        }
        for who in ("portal_admin", "other_admin")
    }
    assert world["b"] in ids["portal_admin"] and world["b"] in ids["other_admin"]
    assert world["a"] not in ids["other_admin"]
    assert world["a"] not in ids["portal_admin"]  # a team-a entry is not team-b's

    projects = {
        who: [p["slug"] for p in api_as(who).get("/api/v1/projects/").json()["results"]]
        for who in ("portal_admin", "member", "other_admin")
    }
    assert projects == {
        "portal_admin": ["team-a", "team-b"],
        "member": ["team-a"],
        "other_admin": ["team-b"],
    }


@pytest.mark.django_db
def test_connection_details_only_for_writers(api_as, world):
    url = f"/api/v1/registries/{world['a']}/"
    admin_view = api_as("project_admin").get(url).json()
    viewer_view = api_as("viewer").get(url).json()
    assert admin_view["writable"] is True
    assert admin_view["connection"]["username"] == "robot"
    assert admin_view["connection"]["has_password"] is True
    assert viewer_view["writable"] is False
    assert viewer_view["connection"] is None
    # The password itself is never returned, to anyone.
    for body in (admin_view, viewer_view):
        assert "team-a-s3cret-value" not in str(body)

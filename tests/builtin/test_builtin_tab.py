"""The Built-In Repositories tab and its deletes, per persona.

Index rows are written directly here (the crawler is the Library's, tested
there); the end-to-end path through a real registry is in ``test_end_to_end``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

TAB = "/builtin-registry/repositories/"
DELETE_TAG = "/builtin-registry/repositories/delete-tag/"
DELETE_REPO = "/builtin-registry/repositories/delete/"


@pytest.fixture
def indexed(builtin_settings, personas):
    """The built-in entry, with team-a/app, team-b/ledger and a stray repository."""
    from library.models import Repository, Tag
    from library.services import source_for_entry
    from registries.builtin.services import builtin_registry_sync

    registry = builtin_registry_sync()
    source = source_for_entry(registry)
    created = datetime(2024, 5, 17, 8, 30, tzinfo=UTC)
    for name, tags in (
        ("team-a/app", ["1", "2"]),
        ("team-b/ledger", ["latest"]),
        ("stray/thing", ["0.1"]),
    ):
        repository = Repository.objects.create(
            source=source,
            name=name,
            short_name=name.rsplit("/", 1)[-1],
            tag_count=len(tags),
        )
        for index, tag in enumerate(tags):
            Tag.objects.create(
                repository=repository,
                name=tag,
                digest="sha256:" + f"{index}{name}".encode().hex().ljust(64, "0")[:64],
                size=2048 * (index + 1),
                created=created,
            )
    return registry


def _html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_members_see_their_projects_images_with_pull_commands(
    indexed, client_for, personas
):
    html = _html(client_for(personas["member"]).get(TAB))
    assert 'data-repository="team-a/app"' in html
    assert "docker pull 127.0.0.1:5999/team-a/app:2" in html
    assert "2.0\xa0KB" in html or "2.0 KB" in html
    assert "docker login 127.0.0.1:5999 --username 'bob'" in html
    assert "docker push 127.0.0.1:5999/team-a/" in html
    # Another project's images, and strays, are not shown to a member.
    assert "team-b/ledger" not in html
    assert "stray/thing" not in html
    # Members push but do not delete.
    assert DELETE_TAG not in html
    assert DELETE_REPO not in html


def test_a_member_of_two_projects_sees_the_current_ones_images_only(
    indexed, client_for, personas, project_a, project_b
):
    """Team B's group must not claim to be empty while team A is current."""
    from portal.models import Membership, Role

    member = personas["member"]
    Membership.objects.create(user=member, project=project_b, role=Role.MEMBER)
    client = client_for(member)
    html = _html(client.get(TAB))  # Team A is current: the first by name
    assert 'data-repository="team-a/app"' in html
    assert "team-b/ledger" not in html
    assert "has no images in the built-in registry yet" not in html
    assert "The images of Team B are listed when it is the current project" in html

    from portal.middleware import SESSION_KEY

    session = client.session
    session[SESSION_KEY] = "team-b"
    session.save()
    html = _html(client.get(TAB))
    assert 'data-repository="team-b/ledger"' in html
    assert "team-a/app" not in html


def test_viewer_sees_images_but_no_push_or_delete(indexed, client_for, personas):
    html = _html(client_for(personas["viewer"]).get(TAB))
    assert 'data-repository="team-a/app"' in html
    assert "docker push" not in html
    assert DELETE_TAG not in html


def test_project_admin_may_delete_in_own_project_only(indexed, client_for, personas):
    html = _html(client_for(personas["project_admin"]).get(TAB))
    assert f"{DELETE_TAG}?repository=team-a/app&amp;tag=1" in html
    assert f"{DELETE_REPO}?repository=team-a/app" in html
    other = _html(client_for(personas["other_admin"]).get(TAB))
    assert 'data-repository="team-b/ledger"' in other
    assert "team-a/app" not in other


def test_portal_admin_sees_every_project_and_strays(indexed, client_for, personas):
    html = _html(client_for(personas["portal_admin"]).get(TAB))
    for name in ("team-a/app", "team-b/ledger", "stray/thing"):
        assert f'data-repository="{name}"' in html
    assert "Outside every project" in html


def test_anonymous_goes_to_login(indexed, client_for):
    response = client_for(None).get(TAB)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_without_the_builtin_registry(builtin_settings, client_for, personas):
    html = _html(client_for(personas["member"]).get(TAB))
    assert "not available to this project" in html


def test_queries_do_not_grow_with_repositories(
    indexed, client_for, personas, django_assert_max_num_queries
):
    from library.models import Repository, Tag

    client = client_for(personas["portal_admin"])
    client.get(TAB)  # warm the session and middleware caches
    with django_assert_max_num_queries(20) as few:
        client.get(TAB)
    source = indexed and Repository.objects.first().source
    for i in range(30):
        repo = Repository.objects.create(
            source=source, name=f"team-a/more-{i}", short_name=f"more-{i}", tag_count=1
        )
        Tag.objects.create(repository=repo, name="1", digest="sha256:" + "b" * 64)
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = _html(client.get(TAB))
    assert "team-a/more-29" in html


def test_htmx_gets_the_content_alone(indexed, client_for, personas):
    html = _html(client_for(personas["member"]).get(TAB, HTTP_HX_REQUEST="true"))
    assert html.lstrip().startswith('<section id="builtin"')


def test_delete_needs_admin_rights_and_a_visible_repository(
    indexed, client_for, personas
):
    from library.models import Tag

    data = {"repository": "team-a/app", "tag": "1"}
    for persona in ("member", "viewer"):
        assert client_for(personas[persona]).post(DELETE_TAG, data).status_code == 403
        assert client_for(personas[persona]).post(DELETE_REPO, data).status_code == 403
    # Another project's admin is told nothing exists.
    assert client_for(personas["other_admin"]).post(DELETE_TAG, data).status_code == 404
    assert client_for(personas["other_admin"]).get(DELETE_REPO, data).status_code == 404
    admin = client_for(personas["project_admin"])
    assert (
        admin.get(DELETE_TAG, {"repository": "team-a/app", "tag": "../x"}).status_code
        == 404
    )
    assert (
        admin.get(DELETE_TAG, {"repository": "Team-A/app", "tag": "1"}).status_code
        == 404
    )
    assert Tag.objects.filter(repository__name="team-a/app").count() == 2


def test_delete_asks_for_confirmation_first(indexed, client_for, personas):
    admin = client_for(personas["project_admin"])
    html = _html(admin.get(DELETE_TAG, {"repository": "team-a/app", "tag": "1"}))
    assert "Delete team-a/app:1?" in html
    assert "every other tag on the same image" in html
    html = _html(admin.get(DELETE_REPO, {"repository": "team-a/app"}))
    assert "Delete every image in team-a/app?" in html


def test_unreachable_registry_is_a_message_not_a_500(indexed, client_for, personas):
    from portal.models import AuditEntry

    admin = client_for(personas["project_admin"])
    response = admin.post(
        DELETE_TAG, {"repository": "team-a/app", "tag": "1"}, follow=True
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "cannot be reached" in html
    assert not AuditEntry.objects.filter(action="builtin.tag_delete").exists()
    htmx = admin.post(DELETE_REPO, {"repository": "team-a/app"}, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 200
    assert htmx["HX-Redirect"] == TAB


def test_refused_delete_is_audited_and_explained(
    indexed, client_for, personas, builtin_settings
):
    """The registry is a stub here: HEAD answers a digest, DELETE is refused."""
    import jwt

    from portal.models import AuditEntry
    from registries.builtin import keys
    from tests.support.certs import Leaf
    from tests.support.tokenserver import Reply, StubServer

    digest = "sha256:" + "c" * 64

    def handler(request):
        if request.method == "HEAD":
            return Reply(200, b"", {"Docker-Content-Digest": digest})
        return Reply(
            405,
            {
                "errors": [
                    {"code": "UNSUPPORTED", "message": "The operation is unsupported."}
                ]
            },
        )

    cert, key = keys.registry_tls_files(["127.0.0.1"])
    leaf = Leaf(cert_pem=cert.read_text(), key_pem=key.read_text(), der=b"", key=None)
    admin = client_for(personas["project_admin"])
    with StubServer(handler, tls=leaf) as stub:
        builtin_settings.BUILTIN_REGISTRY_ADDRESS = f"127.0.0.1:{stub.port}"
        response = admin.post(
            DELETE_TAG, {"repository": "team-a/app", "tag": "1"}, follow=True
        )
    html = response.content.decode()
    assert "answered 405: The operation is unsupported." in html
    actions = list(
        AuditEntry.objects.filter(action__startswith="builtin.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["builtin.tag_delete", "builtin.delete_failed"]
    delete = next(r for r in stub.received if r.method == "DELETE")
    assert delete.path == f"/v2/team-a/app/manifests/{digest}"
    token = delete.header("Authorization").removeprefix("Bearer ")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == "alice"
    assert claims["access"] == [
        {"type": "repository", "name": "team-a/app", "actions": ["pull", "delete"]}
    ]


def test_builtin_namespaces_follow_membership(builtin_settings, personas):
    from registries.builtin.selectors import builtin_namespaces

    assert builtin_namespaces(personas["portal_admin"]) is None
    assert builtin_namespaces(personas["member"]) == ["team-a"]
    assert builtin_namespaces(personas["viewer"]) == ["team-a"]
    assert builtin_namespaces(personas["other_admin"]) == ["team-b"]

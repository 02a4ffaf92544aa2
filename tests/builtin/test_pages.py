"""Robot accounts, registry tokens and the built-in registry page, per persona."""

from __future__ import annotations

import pytest

from portal.keys import hash_secret
from portal.models import AuditEntry
from registries.builtin.models import PersonalAccessToken, RobotAccount

ROBOTS = "/projects/team-a/robots/"


@pytest.fixture
def pages(builtin_settings, personas, client_for):
    return {name: client_for(user) for name, user in personas.items()}


def _create_robot(client, **data):
    form = {"name": "ci", "description": "", "scope": "pull,push", "expires": "30"}
    form.update(data)
    return client.post(ROBOTS, form)


def test_project_admin_creates_a_robot_and_sees_the_token_once(pages):
    response = _create_robot(pages["project_admin"])
    assert response.status_code == 201
    robot = RobotAccount.objects.get(name="ci")
    secret = response.context["secret"]
    assert secret.startswith("plr_")
    assert secret in response.content.decode()
    assert "robot$team-a+ci" in response.content.decode()
    # Only a hash is stored, and the list never shows the token again.
    assert robot.token_hash == hash_secret(secret)
    assert secret not in str(RobotAccount.objects.filter(pk=robot.pk).values().get())
    listing = pages["project_admin"].get(ROBOTS)
    assert "robot$team-a+ci" in listing.content.decode()
    assert secret not in listing.content.decode()
    assert robot.expires_at is not None
    entry = AuditEntry.objects.get(action="robot.create")
    assert entry.project.slug == "team-a"
    assert secret not in str(entry.changes)


def test_members_and_viewers_see_robots_but_cannot_manage_them(pages):
    _create_robot(pages["project_admin"])
    robot = RobotAccount.objects.get()
    for persona in ("member", "viewer"):
        listing = pages[persona].get(ROBOTS)
        assert listing.status_code == 200
        assert "robot$team-a+ci" in listing.content.decode()
        assert 'id="robot-add"' not in listing.content.decode()
        assert _create_robot(pages[persona], name="sneaky").status_code == 403
        revoke = pages[persona].post(f"{ROBOTS}{robot.pk}/revoke/")
        assert revoke.status_code == 403
    assert RobotAccount.objects.count() == 1
    assert RobotAccount.objects.get().revoked_at is None


def test_outsiders_get_404_and_anonymous_goes_to_login(pages, client_for):
    _create_robot(pages["project_admin"])
    robot = RobotAccount.objects.get()
    assert pages["other_admin"].get(ROBOTS).status_code == 404
    assert _create_robot(pages["other_admin"], name="x").status_code == 404
    assert pages["other_admin"].post(f"{ROBOTS}{robot.pk}/revoke/").status_code == 404
    anonymous = client_for(None).get(ROBOTS)
    assert anonymous.status_code == 302
    assert "/accounts/login/" in anonymous["Location"]


def test_portal_admin_manages_any_projects_robots(pages):
    assert _create_robot(pages["portal_admin"]).status_code == 201


def test_revoke_with_htmx_returns_the_row(pages):
    _create_robot(pages["project_admin"])
    robot = RobotAccount.objects.get()
    response = pages["project_admin"].post(
        f"{ROBOTS}{robot.pk}/revoke/", HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="robot-{robot.pk}"')
    assert "Revoked" in html
    robot.refresh_from_db()
    assert robot.revoked_at is not None
    assert AuditEntry.objects.filter(action="robot.revoke").count() == 1


def test_robot_form_errors_are_shown_not_500(pages):
    bad = _create_robot(pages["project_admin"], name="Bad Name!", scope="push")
    assert bad.status_code == 422
    html = bad.content.decode()
    assert "lower-case letters" in html
    assert "Select a valid choice" in html
    _create_robot(pages["project_admin"])
    duplicate = _create_robot(pages["project_admin"])
    assert duplicate.status_code == 422
    assert "already has a robot account with this name" in duplicate.content.decode()
    # A revoked name may be used again.
    robot = RobotAccount.objects.get()
    pages["project_admin"].post(f"{ROBOTS}{robot.pk}/revoke/")
    assert _create_robot(pages["project_admin"]).status_code == 201


def test_registry_tokens_belong_to_their_owner(pages, personas):
    response = pages["member"].post(
        "/account/registry-tokens/",
        {"name": "bobs-laptop", "scope": "pull", "expires": "never"},
    )
    assert response.status_code == 201
    token = PersonalAccessToken.objects.get()
    assert token.user == personas["member"]
    assert token.expires_at is None
    assert response.context["secret"].startswith("plp_")
    mine = pages["member"].get("/account/registry-tokens/").content.decode()
    assert "bobs-laptop" in mine
    others = pages["viewer"].get("/account/registry-tokens/").content.decode()
    assert "bobs-laptop" not in others
    assert (
        pages["viewer"].post(f"/account/registry-tokens/{token.pk}/revoke/").status_code
        == 404
    )
    token.refresh_from_db()
    assert token.revoked_at is None
    revoke = pages["member"].post(f"/account/registry-tokens/{token.pk}/revoke/")
    assert revoke.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_registry_token_form_errors(pages):
    bad = pages["member"].post(
        "/account/registry-tokens/", {"name": "", "scope": "root", "expires": "5"}
    )
    assert bad.status_code == 422
    assert PersonalAccessToken.objects.count() == 0


def test_builtin_page_before_setup(pages):
    response = pages["viewer"].get("/builtin-registry/")
    assert response.status_code == 200
    assert "not set up yet" in response.content.decode()
    assert pages["viewer"].get("/builtin-registry/ca.crt").status_code == 404


def test_builtin_page_and_ca_download(pages, client_for):
    from registries.builtin.keys import portal_ca
    from registries.builtin.services import builtin_registry_sync

    builtin_registry_sync()
    html = pages["member"].get("/builtin-registry/").content.decode()
    assert "/etc/docker/certs.d/127.0.0.1:5999/ca.crt" in html
    assert "docker push 127.0.0.1:5999/team-a/app:1" in html
    # The CA certificate is public: a Docker host fetches it without a session.
    download = client_for(None).get("/builtin-registry/ca.crt")
    assert download.status_code == 200
    assert download["Content-Disposition"] == 'attachment; filename="ca.crt"'
    assert download.content.decode() == portal_ca().certificate_pem
    assert client_for(None).get("/builtin-registry/").status_code == 302

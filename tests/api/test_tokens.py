"""API tokens: only a hash is stored, made in the UI or by manage.py, revocable."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db

KEY = re.compile(r"ptl_[A-Za-z0-9_-]{43}")


def _me(key: str):
    from django.test import Client

    return Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}")


def test_only_a_hash_and_a_prefix_are_stored(personas):
    from portal.api.tokens import api_token_create
    from portal.keys import hash_secret
    from portal.models import ApiToken, AuditEntry

    created = api_token_create(
        acting_user=personas["member"], user=personas["member"], name="ci"
    )
    assert KEY.fullmatch(created.key)
    row = ApiToken.objects.values().get(pk=created.token.pk)
    assert created.key not in str(row)
    assert row["key_hash"] == hash_secret(created.key) != created.key
    assert row["prefix"] == created.key[:12]
    audit = AuditEntry.objects.get(action="api_token.create")
    assert created.key not in str(audit.changes) + audit.object_repr
    assert _me(created.key).json()["username"] == "bob"


def test_expired_revoked_and_disabled_tokens_are_refused(personas, token_for):
    from portal.api.tokens import api_token_create, api_token_revoke

    member = personas["member"]
    expired = api_token_create(
        acting_user=member,
        user=member,
        name="old",
        expires_at=timezone.now() - timedelta(seconds=1),
    )
    assert_error(_me(expired.key), 401, "authentication_failed")

    live = api_token_create(acting_user=member, user=member, name="live")
    assert _me(live.key).status_code == 200
    api_token_revoke(acting_user=member, token=live.token)
    assert_error(_me(live.key), 401, "authentication_failed")

    viewer_key = token_for(personas["viewer"])
    personas["viewer"].is_active = False
    personas["viewer"].save()
    error = assert_error(_me(viewer_key), 401, "authentication_failed")
    assert "disabled" in error["message"]


def test_use_is_recorded_at_most_once_a_minute(personas):
    from portal.api.tokens import api_token_create
    from portal.models import ApiToken

    created = api_token_create(
        acting_user=personas["member"], user=personas["member"], name="ci"
    )
    assert created.token.last_used_at is None
    _me(created.key)
    first = ApiToken.objects.get(pk=created.token.pk).last_used_at
    assert first is not None
    _me(created.key)
    assert ApiToken.objects.get(pk=created.token.pk).last_used_at == first


# -- the API tokens page ------------------------------------------------------------


def test_page_needs_login(client):
    response = client.get("/account/api-tokens/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("who", ["portal_admin", "project_admin", "member", "viewer"])
def test_each_person_creates_and_sees_only_their_own_tokens(client_for, personas, who):
    from portal.api.tokens import api_token_create

    other = "other_admin"
    api_token_create(
        acting_user=personas[other], user=personas[other], name="someone-elses"
    )
    browser = client_for(personas[who])
    response = browser.post("/account/api-tokens/", {"name": "deploy", "expires": "30"})
    assert response.status_code == 200
    html = response.content.decode()
    key = KEY.search(html).group(0)
    assert "someone-elses" not in html
    assert response["Cache-Control"].startswith("max-age=0")
    assert _me(key).json()["username"] == personas[who].username

    listing = browser.get("/account/api-tokens/").content.decode()
    assert "deploy" in listing and key[:12] in listing
    assert key not in listing  # shown once, never again
    assert "someone-elses" not in listing


def test_duplicate_name_is_refused_in_the_form(client_for, personas):
    browser = client_for(personas["member"])
    browser.post("/account/api-tokens/", {"name": "ci"})
    response = browser.post("/account/api-tokens/", {"name": "ci"})
    assert response.status_code == 422
    assert "already have a token with this name" in response.content.decode()
    assert not KEY.search(response.content.decode())


def test_revoke_own_token_but_never_someone_elses(client_for, personas):
    from portal.api.tokens import api_token_create
    from portal.models import ApiToken

    mine = api_token_create(
        acting_user=personas["member"], user=personas["member"], name="mine"
    )
    theirs = api_token_create(
        acting_user=personas["viewer"], user=personas["viewer"], name="theirs"
    )
    browser = client_for(personas["member"])

    response = browser.post(f"/account/api-tokens/{theirs.token.pk}/revoke/")
    assert response.status_code == 404
    assert ApiToken.objects.filter(pk=theirs.token.pk).exists()
    # Not even a portal admin revokes someone else's token from this page.
    admin = client_for(personas["portal_admin"])
    assert (
        admin.post(f"/account/api-tokens/{theirs.token.pk}/revoke/").status_code == 404
    )

    response = browser.post(
        f"/account/api-tokens/{mine.token.pk}/revoke/", HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert 'id="tokens"' in response.content.decode()
    assert "mine" not in response.content.decode()
    assert not ApiToken.objects.filter(pk=mine.token.pk).exists()
    assert_error(_me(mine.key), 401)
    assert (
        browser.get(f"/account/api-tokens/{mine.token.pk}/revoke/").status_code == 405
    )


# -- manage.py create_api_token ----------------------------------------------------


def test_command_prints_a_working_key(personas):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "create_api_token",
        "alice",
        "--name",
        "ci",
        "--expires-days",
        "7",
        stdout=out,
        stderr=err,
    )
    key = out.getvalue().strip()
    assert KEY.fullmatch(key)
    assert "expiring" in err.getvalue()
    assert _me(key).json()["username"] == "alice"

    from portal.models import ApiToken

    token = ApiToken.objects.get(user__username="alice", name="ci")
    assert timedelta(days=6) < token.expires_at - timezone.now() <= timedelta(days=7)


def test_command_refuses_unknown_users_and_bad_input(personas):
    with pytest.raises(CommandError, match="no user"):
        call_command("create_api_token", "nobody", stdout=io.StringIO())
    with pytest.raises(CommandError, match="between 1 and 36500"):
        call_command(
            "create_api_token", "alice", "--expires-days", "0", stdout=io.StringIO()
        )
    call_command(
        "create_api_token",
        "alice",
        "--name",
        "dup",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    with pytest.raises(CommandError, match="already have a token"):
        call_command(
            "create_api_token",
            "alice",
            "--name",
            "dup",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )

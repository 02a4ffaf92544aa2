"""Registry credentials: encrypted at rest, write-only in every page and log."""

from __future__ import annotations

import logging

import pytest
from django.db import connection
from django.urls import reverse

from portal.models import AuditEntry
from registries.models import Registry

SECRETS = ("global-s3cret-value", "team-a-s3cret-value", "team-b-s3cret-value")


def raw_password_column(pk) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT password_encrypted FROM registries_registry WHERE id = %s", [pk]
        )
        return cursor.fetchone()[0]


def assert_no_secret(body: str, *registries: Registry) -> None:
    """Fail if any plaintext secret, or a stored ciphertext, appears in ``body``."""
    for secret in SECRETS:
        assert secret not in body
    for registry in registries:
        assert registry.password_encrypted
        assert registry.password_encrypted not in body


def edit_form(registry: Registry, **overrides) -> dict:
    data = {
        "name": registry.name,
        "address": registry.address,
        "namespace": registry.namespace,
        "username": registry.username,
        "password": "",
        "ca_pem": registry.ca_pem,
        "crawl_interval_minutes": registry.crawl_interval_minutes,
    }
    if registry.enabled:
        data["enabled"] = "on"
    data.update(overrides)
    return data


def test_password_added_through_the_form_is_stored_encrypted(personas, client_for):
    client = client_for(personas["portal_admin"])
    response = client.post(
        reverse("registry_global_add"),
        {
            "name": "Private",
            "address": "private.example.com",
            "username": "robot",
            "password": "form-typed-s3cret",
            "crawl_interval_minutes": 60,
            "enabled": "on",
        },
    )
    assert response.status_code == 302
    registry = Registry.objects.get(name="Private")
    raw = raw_password_column(registry.pk)
    assert raw.startswith("gAAAA")  # a Fernet token
    assert "form-typed-s3cret" not in raw
    assert registry.password == "form-typed-s3cret"


@pytest.mark.parametrize(
    "persona", ["portal_admin", "project_admin", "member", "viewer", "other_admin"]
)
def test_no_page_shows_a_secret(
    persona, personas, client_for, global_registry, registry_a, registry_b
):
    user = personas[persona]
    client = client_for(user)
    entries = (global_registry, registry_a, registry_b)
    # Some history in the audit log: create, update, password change.
    client_for(personas["portal_admin"]).post(
        reverse("registry_edit", args=[registry_a.pk]),
        edit_form(registry_a, name="Team A renamed", password="rotated-s3cret"),
    )
    urls = [
        reverse("library_repositories"),
        reverse("registry_global_list"),
        reverse("registry_global_add"),
        reverse("audit_log"),
        reverse("project_registries", args=["team-a"]),
        reverse("project_registries", args=["team-b"]),
        reverse("project_members", args=["team-a"]),
        reverse("admin:registries_registry_changelist"),
        reverse("admin:portal_auditentry_changelist"),
    ]
    for registry in entries:
        urls += [
            reverse("registry_edit", args=[registry.pk]),
            reverse("registry_delete", args=[registry.pk]),
            reverse("admin:registries_registry_change", args=[registry.pk]),
        ]
    seen_ok = 0
    for url in urls:
        response = client.get(url, follow=True)
        body = response.content.decode()
        assert_no_secret(body, *Registry.objects.exclude(password_encrypted=""))
        assert "rotated-s3cret" not in body
        seen_ok += response.status_code == 200
    # The portal admin sees every one of these pages; others at least the library.
    if persona == "portal_admin":
        assert seen_ok == len(urls)
    else:
        assert seen_ok >= 1


def test_edit_and_admin_forms_never_fill_in_the_password(
    personas, client_for, registry_a, global_registry
):
    client = client_for(personas["portal_admin"])
    body = client.get(reverse("registry_edit", args=[registry_a.pk])).content.decode()
    assert 'type="password"' in body
    assert "A password is stored. Leave empty to keep it." in body
    admin_body = client.get(
        reverse("admin:registries_registry_change", args=[global_registry.pk])
    ).content.decode()
    assert 'name="new_password"' in admin_body
    assert "password_encrypted" not in admin_body
    assert_no_secret(body + admin_body, registry_a, global_registry)


def test_empty_password_on_edit_keeps_the_old_one(personas, client_for, registry_a):
    client = client_for(personas["project_admin"])
    response = client.post(
        reverse("registry_edit", args=[registry_a.pk]),
        edit_form(registry_a, name="Renamed"),
    )
    assert response.status_code == 302
    registry_a.refresh_from_db()
    assert registry_a.name == "Renamed"
    assert registry_a.password == "team-a-s3cret-value"


def test_new_password_on_edit_replaces_the_old_one(personas, client_for, registry_a):
    client = client_for(personas["project_admin"])
    old_token = registry_a.password_encrypted
    response = client.post(
        reverse("registry_edit", args=[registry_a.pk]),
        edit_form(registry_a, password="brand-new-s3cret"),
    )
    assert response.status_code == 302
    registry_a.refresh_from_db()
    assert registry_a.password == "brand-new-s3cret"
    assert registry_a.password_encrypted != old_token
    entry = AuditEntry.objects.filter(action="registry.update").latest("pk")
    assert entry.changes["password"] == ["set", "changed"]
    assert "brand-new-s3cret" not in str(entry.changes)


def test_removing_the_username_drops_the_password(personas, client_for, registry_a):
    client = client_for(personas["project_admin"])
    client.post(
        reverse("registry_edit", args=[registry_a.pk]),
        edit_form(registry_a, username=""),
    )
    registry_a.refresh_from_db()
    assert registry_a.password_encrypted == ""


def test_changing_the_address_needs_the_password_again(
    personas, client_for, registry_a
):
    """The stored secret must not be sent to an address it was not saved for."""
    client = client_for(personas["project_admin"])
    url = reverse("registry_edit", args=[registry_a.pk])
    response = client.post(url, edit_form(registry_a, address="https://evil.example"))
    assert response.status_code == 422
    assert "Enter the password again" in response.content.decode()
    registry_a.refresh_from_db()
    assert registry_a.address == "https://images.example.com:5000"

    # Verify must not send it there either.
    response = client.post(
        reverse("registry_verify_form", args=[registry_a.pk]),
        edit_form(registry_a, address="https://evil.example"),
        headers={"HX-Request": "true"},
    )
    assert "Enter the password again" in response.content.decode()

    # Re-entering it (or clearing the username) is fine; the same address too.
    response = client.post(
        url, edit_form(registry_a, address="https://evil.example", password="again")
    )
    assert response.status_code == 302
    registry_a.refresh_from_db()
    assert registry_a.address == "https://evil.example"
    assert registry_a.password == "again"
    response = client.post(url, edit_form(registry_a, address="EVIL.example:443/"))
    assert response.status_code == 302


def test_the_django_admin_keeps_the_secret_write_only(
    personas, client_for, global_registry
):
    client = client_for(personas["portal_admin"])
    url = reverse("admin:registries_registry_change", args=[global_registry.pk])
    data = {
        "name": "Corp registry",
        "address": global_registry.address,
        "namespace": "",
        "enabled": "on",
        "username": "svc",
        "new_password": "",
        "ca_pem": "",
        "pinned_sha256": "",
        "crawl_interval_minutes": 60,
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    global_registry.refresh_from_db()
    assert global_registry.password == "global-s3cret-value"

    response = client.post(url, {**data, "new_password": "admin-typed-s3cret"})
    assert response.status_code == 302
    global_registry.refresh_from_db()
    assert global_registry.password == "admin-typed-s3cret"
    assert "admin-typed-s3cret" not in raw_password_column(global_registry.pk)
    assert "admin-typed-s3cret" not in client.get(url).content.decode()


def test_secrets_stay_out_of_the_logs(personas, client_for, registry_a, caplog):
    client = client_for(personas["project_admin"])
    with caplog.at_level(logging.DEBUG):
        client.post(
            reverse("registry_edit", args=[registry_a.pk]),
            edit_form(registry_a, password="logged-s3cret?"),
        )
        client.post(
            reverse("registry_verify_form", args=[registry_a.pk]),
            edit_form(registry_a, password="logged-s3cret?"),
            headers={"HX-Request": "true"},
        )
        client.post(
            reverse("registry_verify", args=[registry_a.pk]),
            headers={"HX-Request": "true"},
        )
    assert "logged-s3cret?" not in caplog.text
    assert "team-a-s3cret-value" not in caplog.text


def test_verify_against_a_real_registry_never_echoes_the_password(
    basic_registry, personas, client_for, project_a
):
    """Verify a saved entry with a wrong password against the real registry."""
    from registries.services import registry_create

    registry = registry_create(
        acting_user=personas["project_admin"],
        project=project_a,
        name="Real basic-auth registry",
        address=basic_registry.url,
        username=basic_registry.credentials[0],
        password="wrong-s3cret-typed",
        ca_pem=basic_registry.ca_pem,
    )
    client = client_for(personas["project_admin"])
    fragment = client.post(
        reverse("registry_verify", args=[registry.pk]), headers={"HX-Request": "true"}
    ).content.decode()
    assert "<html" not in fragment
    assert "Verification failed" in fragment
    assert "wrong-s3cret-typed" not in fragment
    registry.refresh_from_db()
    assert registry.verify_status == "error"
    # The list page shows the recorded health, still without the secret.
    body = client.get(reverse("project_registries", args=["team-a"])).content.decode()
    assert "Failing" in body
    assert "wrong-s3cret-typed" not in body
    assert registry.password_encrypted not in body


# -- a secret without a username ------------------------------------------------------


def test_a_password_without_a_username_is_refused_on_create(personas, client_for):
    from django.core.exceptions import ValidationError

    from registries.services import registry_create

    with pytest.raises(ValidationError) as exc:
        registry_create(
            acting_user=personas["portal_admin"],
            name="Token only",
            address="token-only.example.com",
            password="lonely-s3cret",
        )
    assert "Enter the username" in " ".join(exc.value.message_dict["username"])

    response = client_for(personas["portal_admin"]).post(
        reverse("registry_global_add"),
        {
            "name": "Token only",
            "address": "token-only.example.com",
            "password": "lonely-s3cret",
            "crawl_interval_minutes": 60,
        },
    )
    assert response.status_code == 422
    body = response.content.decode()
    assert "Enter the username" in body
    assert "lonely-s3cret" not in body
    assert not Registry.objects.filter(name="Token only").exists()


def test_a_new_password_without_a_username_is_refused_on_edit(
    personas, client_for, registry_a
):
    response = client_for(personas["project_admin"]).post(
        reverse("registry_edit", args=[registry_a.pk]),
        edit_form(registry_a, username="", password="replacement-s3cret"),
    )
    assert response.status_code == 422
    assert "Enter the username" in response.content.decode()
    registry_a.refresh_from_db()
    assert (registry_a.username, registry_a.password) == (
        "robot",
        "team-a-s3cret-value",
    )


def test_an_edit_never_drops_a_stored_secret_it_did_not_touch(
    personas, client_for, registry_a
):
    """An entry saved with a secret but no username keeps it through edits."""
    Registry.objects.filter(pk=registry_a.pk).update(username="")
    registry_a.refresh_from_db()
    response = client_for(personas["project_admin"]).post(
        reverse("registry_edit", args=[registry_a.pk]),
        edit_form(registry_a, name="Renamed"),
    )
    assert response.status_code == 302
    registry_a.refresh_from_db()
    assert registry_a.name == "Renamed"
    assert registry_a.password == "team-a-s3cret-value"
    # Adding the username back makes the kept secret usable again.
    response = client_for(personas["project_admin"]).post(
        reverse("registry_edit", args=[registry_a.pk]),
        edit_form(registry_a, username="robot"),
    )
    assert response.status_code == 302
    registry_a.refresh_from_db()
    assert registry_a.password == "team-a-s3cret-value"


def test_the_form_says_clearing_the_username_removes_the_password(
    personas, client_for, registry_a
):
    page = client_for(personas["project_admin"]).get(
        reverse("registry_edit", args=[registry_a.pk])
    )
    assert "Clearing the username also removes the stored password" in (
        page.content.decode()
    )
    client_for(personas["project_admin"]).post(
        reverse("registry_edit", args=[registry_a.pk]),
        edit_form(registry_a, username=""),
    )
    entry = AuditEntry.objects.filter(action="registry.update").latest("pk")
    assert entry.changes["password"] == ["set", ""]


def test_the_admin_refuses_a_password_without_a_username(personas, client_for):
    client = client_for(personas["portal_admin"])
    response = client.post(
        reverse("admin:registries_registry_add"),
        {
            "name": "Secret only",
            "address": "https://secret-only.example.com",
            "namespace": "",
            "project": "",
            "enabled": "on",
            "username": "",
            "new_password": "lonely-s3cret",
            "ca_pem": "",
            "pinned_sha256": "",
            "crawl_interval_minutes": "60",
        },
    )
    assert response.status_code == 200  # the form again, with the reason
    body = response.content.decode()
    assert "Enter the username that goes with the password" in body
    assert "lonely-s3cret" not in body
    assert not Registry.objects.filter(name="Secret only").exists()

"""Registry pages with people's input: clear messages for bad input, never a 500.

Also the query budget of list pages: constant however many entries there are.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.models import AuditEntry, Membership, Role
from registries import connect
from registries.clients.tls import fetch_certificate
from registries.models import Registry
from registries.services import registry_create
from tests.support.certs import TestCA


@pytest.fixture
def admin_client(personas, client_for):
    return client_for(personas["portal_admin"])


@pytest.fixture
def team_admin(personas, client_for):
    return client_for(personas["project_admin"])


@pytest.fixture(autouse=True)
def no_network_verify(monkeypatch):
    """Verify answers from a stub: these tests are about input, not protocols."""
    monkeypatch.setattr(
        connect,
        "verify",
        lambda registry: connect.VerifyOutcome(ok=False, message="stub: unreachable"),
    )


def form(**overrides) -> dict:
    data = {
        "name": "Entry",
        "address": "registry.example.com",
        "namespace": "",
        "username": "",
        "password": "",
        "ca_pem": "",
        "enabled": "on",
        "crawl_interval_minutes": "60",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


BAD_INPUT = [
    ({"name": ""}, "name", "This field is required."),
    ({"name": "x" * 101}, "name", "at most 100 characters"),
    ({"address": ""}, "address", "This field is required."),
    (
        {"address": "ftp://registry.example.com"},
        "address",
        "Use an https:// or http://",
    ),
    ({"address": "https://u:p@registry.example.com"}, "address", "credentials"),
    ({"address": "registry.example.com/?q=1"}, "address", "query"),
    ({"address": "https://[::1"}, "address", "is not a valid address"),
    ({"address": "registry.example.com:port"}, "address", "is not a valid address"),
    ({"address": "reg istry.example.com"}, "address", "does not name a valid host"),
    ({"address": "a" * 300}, "address", "at most 255 characters"),
    ({"address": "registry\x00.example.com"}, "address", "Null characters"),
    (
        {"address": "http://registry.example.com"},
        "allow_plain_http",
        "Allow plain HTTP",
    ),
    ({"namespace": "Team A"}, "namespace", "is not a valid namespace"),
    ({"namespace": "team-a/../x"}, "namespace", "is not a valid namespace"),
    ({"crawl_interval_minutes": "abc"}, "crawl_interval_minutes", "whole number"),
    ({"crawl_interval_minutes": "0"}, "crawl_interval_minutes", "at most once a"),
    ({"crawl_interval_minutes": "1.5"}, "crawl_interval_minutes", "whole number"),
    ({"crawl_interval_minutes": "-5"}, "crawl_interval_minutes", "at most once a"),
    ({"crawl_interval_minutes": "9" * 30}, "crawl_interval_minutes", "less than or"),
    ({"ca_pem": "not a certificate"}, "ca_pem", "PEM certificate"),
    ({"ca_pem": "zertifikat \u00fcberall"}, "ca_pem", "PEM certificate"),
]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    BAD_INPUT,
    ids=[f"{field}-{i}" for i, (_o, field, _m) in enumerate(BAD_INPUT)],
)
def test_bad_input_is_explained_next_to_the_field(
    overrides, field, message, admin_client, team_admin
):
    before = (Registry.objects.count(), AuditEntry.objects.count())
    for client, url in (
        (admin_client, reverse("registry_global_add")),
        (team_admin, reverse("registry_project_add", args=["team-a"])),
    ):
        response = client.post(url, form(**overrides))
        assert response.status_code == 422
        errors = response.context["form"].errors
        assert field in errors, errors
        assert message in " ".join(errors[field])
        assert message in response.content.decode().replace("&quot;", '"').replace(
            "&#x27;", "'"
        )
    assert (Registry.objects.count(), AuditEntry.objects.count()) == before


def test_a_valid_pem_is_accepted(admin_client):
    pem = TestCA().localhost().cert_pem
    response = admin_client.post(reverse("registry_global_add"), form(ca_pem=pem))
    assert response.status_code == 302
    assert Registry.objects.get(
        address="https://registry.example.com"
    ).ca_pem.startswith("-----BEGIN CERTIFICATE-----")


def test_bad_input_on_verify_gets_a_message_not_a_500(admin_client):
    url = reverse("registry_global_verify_form")
    for data in (
        {},
        form(address="ftp://x"),
        form(ca_pem="garbage"),
        form(crawl_interval_minutes="x", name=""),
        {"address": "\x00"},
    ):
        response = admin_client.post(url, data, headers={"HX-Request": "true"})
        assert response.status_code == 200
        assert "Verification failed" in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/registries/abc/edit/",
        "/registries/-1/edit/",
        "/registries/0/edit/",
        "/registries/99999999999999999999999/edit/",
        "/registries/99999999999999999999999/toggle/",
        "/registries/123456/delete/",
        "/registries/123456/verify/",
        "/registries/123456/trust/",
        "/registries/123456/verify-form/",
        "/projects/no-such-project/registries/",
        "/projects/no-such-project/registries/add/",
        "/projects/no-such-project/registries/verify/",
        "/projects/no-such-project/members/",
        "/projects/team-a/members/abc/role/",
        "/projects/team-a/members/99999999999999999999999/remove/",
        "/projects/team-a/members/123456/role/",
        "/projects/Team%20A/members/",
    ],
)
def test_unknown_things_are_404(url, admin_client):
    before = Registry.objects.count()
    response = admin_client.post(url, {"role": "admin"})
    if response.status_code == 405:  # a page: ask for it the way a browser does
        response = admin_client.get(url)
    assert response.status_code == 404
    assert Registry.objects.count() == before


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"garbage": "x"},
        {"enabled": "maybe"},
        {"sha256": "zz"},
        {"sha256": "a" * 5000},
    ],
)
def test_garbage_posted_to_actions_is_harmless(data, team_admin, registry_a):
    for name in ("registry_toggle", "registry_verify", "registry_trust"):
        response = team_admin.post(
            reverse(name, args=[registry_a.pk]), data, headers={"HX-Request": "true"}
        )
        assert response.status_code == 200, name
    trusted = Registry.objects.get(pk=registry_a.pk)
    assert trusted.ca_pem == ""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"role": "god"}, "Choose a valid role."),
        ({}, "Choose a valid role."),
        ({"role": ""}, "Choose a valid role."),
    ],
)
def test_a_bad_role_is_explained(data, message, team_admin, personas):
    membership = Membership.objects.get(user=personas["viewer"])
    response = team_admin.post(
        reverse("project_member_role", args=["team-a", membership.pk]),
        data,
        follow=True,
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    membership.refresh_from_db()
    assert membership.role == Role.VIEWER


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"user": "abc", "role": "member"}, "user", "Select a valid choice"),
        ({"user": "999999", "role": "member"}, "user", "Select a valid choice"),
        ({"role": "member"}, "user", "This field is required."),
        ({"user": "USER", "role": "king"}, "role", "Select a valid choice"),
        # Already in the project: not offered, so not a valid choice.
        ({"user": "MEMBER", "role": "member"}, "user", "Select a valid choice"),
    ],
)
def test_bad_member_additions_are_explained(
    data, field, message, team_admin, personas, make_user
):
    dave = make_user("dave")
    data = {
        key: {"USER": str(dave.pk), "MEMBER": str(personas["member"].pk)}.get(
            value, value
        )
        for key, value in data.items()
    }
    before = list(Membership.objects.values_list("pk", "role"))
    response = team_admin.post(reverse("project_members", args=["team-a"]), data)
    assert response.status_code == 422
    assert field in response.context["form"].errors
    assert message in response.content.decode()
    assert list(Membership.objects.values_list("pk", "role")) == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "slug": ""}, "This field is required."),
        ({"name": "!!!", "slug": ""}, "Enter a slug of letters"),
        ({"name": "Team X", "slug": "Bad Slug"}, "valid “slug”"),
        ({"name": "Team A", "slug": "other"}, "already exists"),
        ({"name": "Another", "slug": "team-a"}, "already exists"),
    ],
)
def test_bad_projects_are_explained(data, message, admin_client):
    response = admin_client.post(reverse("project_admin_list"), data)
    assert response.status_code == 422
    body = response.content.decode().replace("&quot;", '"')
    assert message in body


def test_delete_asks_first_and_cancel_goes_back_to_the_list(team_admin, registry_a):
    body = team_admin.get(reverse("registry_delete", args=[registry_a.pk])).content
    body = body.decode()
    assert "Delete “Team A images”?" in body
    assert '<a class="button" href="/projects/team-a/registries/">Cancel</a>' in body
    assert Registry.objects.filter(pk=registry_a.pk).exists()


def test_readers_see_read_only_rows(personas, client_for, global_registry, registry_a):
    for persona, writable in (("viewer", set()), ("project_admin", {registry_a.pk})):
        body = (
            client_for(personas[persona])
            .get(reverse("project_registries", args=["team-a"]))
            .content.decode()
        )
        for registry in (global_registry, registry_a):
            toggle = reverse("registry_toggle", args=[registry.pk])
            assert (toggle in body) == (registry.pk in writable)
        assert ("Add registry" in body) == bool(writable)


def test_plain_http_entries_carry_a_warning_badge(admin_client):
    registry_create(
        acting_user=None,
        name="Lab",
        address="http://10.0.0.5:5000",
        allow_plain_http=True,
    )
    body = admin_client.get(reverse("registry_global_list")).content.decode()
    assert "Docker hosts need --insecure-registry" in body
    page = admin_client.get(reverse("registry_global_add")).content.decode()
    assert "--insecure-registry" in page


# -- query budget -----------------------------------------------------------------


def _fill(n: int, project, personas) -> None:
    for i in range(n):
        registry_create(
            acting_user=personas["portal_admin"],
            name=f"global {n}-{i}",
            address=f"g{n}-{i}.example.com",
            username="u",
            password="p",
        )
        registry_create(
            acting_user=personas["portal_admin"],
            project=project,
            name=f"project {n}-{i}",
            address=f"p{n}-{i}.example.com",
        )


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    ("persona", "url"),
    [
        ("portal_admin", reverse("registry_global_list")),
        ("portal_admin", reverse("project_registries", args=["team-a"])),
        ("project_admin", reverse("project_registries", args=["team-a"])),
        ("viewer", reverse("project_registries", args=["team-a"])),
        ("member", reverse("library_repositories")),
        ("portal_admin", reverse("audit_log")),
        ("portal_admin", reverse("project_admin_list")),
    ],
)
def test_list_pages_do_not_query_per_row(
    persona, url, personas, client_for, project_a, django_assert_max_num_queries
):
    client = client_for(personas[persona])
    client.get(url)  # session and first-project bookkeeping happen once
    _fill(3, project_a, personas)
    few = _queries(client, url)
    _fill(27, project_a, personas)
    assert Registry.objects.count() >= 60
    many = _queries(client, url)
    assert many == few
    with django_assert_max_num_queries(12):
        client.get(url)


def test_members_page_does_not_query_per_member(
    personas, client_for, project_a, make_user
):
    client = client_for(personas["project_admin"])
    url = reverse("project_members", args=["team-a"])
    client.get(url)
    few = _queries(client, url)
    for i in range(30):
        Membership.objects.create(
            project=project_a, user=make_user(f"user{i}"), role=Role.MEMBER
        )
    assert _queries(client, url) == few


# -- Verify and Trust against the real distribution registry ------------------------
#
# These undo the module's stub: they drive the real probe over loopback.


@pytest.fixture
def real_verify(monkeypatch):
    from registries import connect as real

    monkeypatch.undo()
    return real.verify


HTMX = {"HX-Request": "true"}


def test_verify_a_plain_http_registry_from_the_add_form(
    http_registry, admin_client, real_verify
):
    response = admin_client.post(
        reverse("registry_global_verify_form"),
        form(address=http_registry.url, allow_plain_http="on", name=""),
        headers=HTMX,
    )
    body = response.content.decode()
    assert "Verified" in body, body
    assert ">V2<" in body
    assert not Registry.objects.filter(address=http_registry.url).exists()


def test_verify_from_the_list_records_health(http_registry, admin_client, real_verify):
    registry = registry_create(
        acting_user=None,
        name="Local lab",
        address=http_registry.url,
        allow_plain_http=True,
    )
    fragment = admin_client.post(
        reverse("registry_verify", args=[registry.pk]), headers=HTMX
    ).content.decode()
    assert "Verified" in fragment
    registry.refresh_from_db()
    assert (registry.verify_status, registry.api_version, registry.flavour) == (
        "ok",
        "v2",
        "distribution",
    )
    page = admin_client.get(reverse("registry_global_list")).content.decode()
    assert "Healthy · Distribution registry" in page


def test_an_untrusted_certificate_can_be_trusted_after_looking_at_it(
    https_registry, team_admin, project_a, personas, real_verify
):
    registry = registry_create(
        acting_user=personas["project_admin"],
        project=project_a,
        name="Private TLS",
        address=https_registry.url,
    )
    verify = reverse("registry_verify", args=[registry.pk])
    fragment = team_admin.post(verify, headers=HTMX).content.decode()
    assert "Verification failed" in fragment
    assert "Trust this certificate" in fragment
    fingerprint = re.search(r'name="sha256" value="([0-9a-f:]+)"', fragment).group(1)
    presented = fetch_certificate(https_registry.host, https_registry.port)
    assert fingerprint == presented.sha256_fingerprint
    assert presented.subject in fragment

    trust = reverse("registry_trust", args=[registry.pk])
    # A fingerprint other than the one presented now is refused.
    refused = team_admin.post(trust, {"sha256": "ab" * 32}, headers=HTMX)
    assert "changed since you looked at it" in refused.content.decode()
    registry.refresh_from_db()
    assert registry.ca_pem == ""

    trusted = team_admin.post(trust, {"sha256": fingerprint}, headers=HTMX)
    assert "Verified" in trusted.content.decode()
    registry.refresh_from_db()
    assert registry.ca_pem.startswith("-----BEGIN CERTIFICATE-----")
    assert registry.verify_status == "ok"
    entry = AuditEntry.objects.filter(action="registry.trust_certificate").latest("pk")
    assert entry.changes["trusted_certificate_sha256"] == [None, fingerprint]
    assert entry.changes["ca_pem"] == ["", "set"]


def test_trusting_a_certificate_keeps_the_bundle_trusted_before(
    https_registry, project_a, personas, real_verify
):
    from registries.services import registry_trust_presented_certificate
    from tests.support.certs import TestCA

    earlier = TestCA("Earlier CA").cert_pem.strip()
    registry = registry_create(
        acting_user=personas["project_admin"],
        project=project_a,
        name="Private TLS",
        address=https_registry.url,
        ca_pem=earlier,
    )
    presented = fetch_certificate(https_registry.host, https_registry.port)
    registry_trust_presented_certificate(
        acting_user=personas["project_admin"],
        registry=registry,
        approved_sha256=presented.sha256_fingerprint,
    )
    registry.refresh_from_db()
    assert registry.ca_pem.startswith(earlier)
    assert presented.pem.strip() in registry.ca_pem
    assert registry.verify_status == "ok"


def test_verify_checks_credentials(basic_registry, team_admin, project_a, real_verify):
    username, password = basic_registry.credentials
    url = reverse("registry_project_verify_form", args=["team-a"])
    data = form(
        address=basic_registry.url, username=username, ca_pem=basic_registry.ca_pem
    )
    good = team_admin.post(url, {**data, "password": password}, headers=HTMX)
    assert "Verified" in good.content.decode()
    bad = team_admin.post(url, {**data, "password": "not-it"}, headers=HTMX)
    assert "Verification failed" in bad.content.decode()
    assert "not-it" not in bad.content.decode()


# -- certificates that trusting cannot fix --------------------------------------------


def _entry_for(server, personas, project_a, **fields):
    return registry_create(
        acting_user=personas["project_admin"],
        project=project_a,
        name="Broken TLS",
        address=server.url,
        **fields,
    )


@pytest.mark.parametrize(
    ("leaf", "says"),
    [
        ("expired", "has expired"),
        ("wrong_host", "is not issued for 127.0.0.1"),
    ],
)
def test_trust_is_neither_offered_nor_accepted_when_it_cannot_help(
    start_registry, test_ca, team_admin, project_a, personas, real_verify, leaf, says
):
    """The issuer is unknown too, but trusting would only reveal the real problem."""
    server = start_registry("https", leaf=getattr(test_ca, leaf)())
    registry = _entry_for(server, personas, project_a)
    fragment = team_admin.post(
        reverse("registry_verify", args=[registry.pk]), headers=HTMX
    ).content.decode()
    assert "Verification failed" in fragment
    assert says in fragment
    assert "Trusting it would not help" in fragment
    assert "Trust this certificate" not in fragment
    registry.refresh_from_db()
    assert says in registry.verify_message

    # Posting the fingerprint anyway (an old page, the API) stores nothing.
    presented = fetch_certificate(server.host, server.port)
    trust = reverse("registry_trust", args=[registry.pk])
    refused = team_admin.post(
        trust, {"sha256": presented.sha256_fingerprint}, headers=HTMX
    ).content.decode()
    assert says in refused
    assert "Trusting it would not help" in refused
    assert "Trust this certificate" not in refused
    registry.refresh_from_db()
    assert registry.ca_pem == ""
    assert not AuditEntry.objects.filter(action="registry.trust_certificate").exists()


@pytest.mark.parametrize(
    ("leaf", "says"),
    [
        ("expired", "has expired"),
        ("wrong_host", "is not issued for 127.0.0.1"),
    ],
)
def test_verify_on_the_unsaved_form_names_the_real_certificate_problem(
    start_registry, test_ca, team_admin, project_a, real_verify, leaf, says
):
    server = start_registry("https", leaf=getattr(test_ca, leaf)())
    url = reverse("registry_project_verify_form", args=["team-a"])
    fragment = team_admin.post(
        url, form(address=server.url), headers=HTMX
    ).content.decode()
    assert "Verification failed" in fragment
    assert says in fragment
    assert "Trusting it would not help" in fragment


@pytest.mark.parametrize(
    ("leaf", "says"),
    [
        ("expired", "has expired"),
        ("wrong_host", "is not issued for 127.0.0.1"),
    ],
)
def test_trust_is_refused_when_the_issuer_is_already_trusted(
    start_registry, test_ca, team_admin, project_a, personas, real_verify, leaf, says
):
    server = start_registry("https", leaf=getattr(test_ca, leaf)())
    registry = _entry_for(server, personas, project_a, ca_pem=test_ca.cert_pem)
    presented = fetch_certificate(server.host, server.port)
    refused = team_admin.post(
        reverse("registry_trust", args=[registry.pk]),
        {"sha256": presented.sha256_fingerprint},
        headers=HTMX,
    ).content.decode()
    assert says in refused
    assert "Trusting it would not help" in refused
    registry.refresh_from_db()
    assert registry.ca_pem == test_ca.cert_pem

"""Who may open which page and do which action: one table, every persona.

Personas (see ``tests/conftest.py``): the portal admin (staff), the admin, member
and viewer of project A ("team-a"), the admin of project B ("team-b"), and an
anonymous visitor. Entries: a global one, one of project A, one of project B.

Expected outcomes are written out by hand, not derived from the code under test:
``OK`` (the action happens), ``LOGIN`` (redirect to the login page), 403 (seen but
read-only) and 404 (invisible: another project's entry is never even hinted at).
Every refusal also checks that nothing changed in the database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.urls import reverse

from portal.models import AuditEntry, Membership, Project, Role
from registries import connect
from registries.clients.tls import certificate_info
from registries.models import Registry
from tests.support.certs import TestCA

OK, LOGIN, ADMIN_LOGIN = "ok", "login", "admin-login"
PERSONAS = (
    "portal_admin",
    "project_admin",
    "member",
    "viewer",
    "other_admin",
    "anonymous",
)


def expect(default, **overrides) -> dict:
    """Return ``{persona: outcome}``: ``default`` for all, then the named exceptions."""
    table = dict.fromkeys(PERSONAS, default)
    table["anonymous"] = LOGIN
    table.update(overrides)
    return table


# Who may change an entry, by whose entry it is. Global entries are read by all
# and written by portal admins; project entries are invisible outside the project.
ENTRY_ACCESS = {
    "global": expect(403, portal_admin=OK),
    "team-a": expect(403, portal_admin=OK, project_admin=OK, other_admin=404),
    "team-b": expect(404, portal_admin=OK, other_admin=OK),
}


@dataclass(frozen=True)
class Action:
    label: str
    method: str
    # Builders take the target: an entry, or the people by persona name.
    url: Callable[..., str]
    data: Callable[..., dict] = lambda target: {}
    ok_status: int = 200
    # Checked after a permitted action: proof that it really happened.
    happened: Callable[..., bool] | None = None


def _form(_people=None, **overrides) -> dict:
    data = {
        "name": "Renamed entry",
        "address": "https://new.example.com",
        "namespace": "ns",
        "username": "",
        "password": "",
        "ca_pem": "",
        "enabled": "on",
        "crawl_interval_minutes": "60",
    }
    data.update(overrides)
    return data


def _entry_form(registry: Registry) -> dict:
    return {
        "name": "Renamed entry",
        "address": registry.address,
        "namespace": registry.namespace,
        "username": registry.username,
        "password": "",
        "ca_pem": "",
        "enabled": "on",
        "crawl_interval_minutes": "60",
    }


def _exists(pk) -> bool:
    return Registry.objects.filter(pk=pk).exists()


# Actions on one entry; run against the global, team-a and team-b entries.
ENTRY_ACTIONS = [
    Action("edit page", "get", lambda r: reverse("registry_edit", args=[r.pk])),
    Action(
        "edit",
        "post",
        lambda r: reverse("registry_edit", args=[r.pk]),
        data=_entry_form,
        ok_status=302,
        happened=lambda r: Registry.objects.get(pk=r.pk).name == "Renamed entry",
    ),
    Action("delete page", "get", lambda r: reverse("registry_delete", args=[r.pk])),
    Action(
        "delete",
        "post",
        lambda r: reverse("registry_delete", args=[r.pk]),
        ok_status=302,
        happened=lambda r: not _exists(r.pk),
    ),
    Action(
        "enable/disable",
        "post",
        lambda r: reverse("registry_toggle", args=[r.pk]),
        ok_status=302,
        happened=lambda r: not Registry.objects.get(pk=r.pk).enabled,
    ),
    Action(
        "verify",
        "post",
        lambda r: reverse("registry_verify", args=[r.pk]),
        ok_status=302,
        happened=lambda r: Registry.objects.get(pk=r.pk).verify_status == "error",
    ),
    Action(
        "verify the edit form",
        "post",
        lambda r: reverse("registry_verify_form", args=[r.pk]),
        data=_entry_form,
        ok_status=200,
    ),
    Action(
        "trust certificate",
        "post",
        lambda r: reverse("registry_trust", args=[r.pk]),
        data=lambda r: {"sha256": STUB_CERT.sha256_fingerprint},
        ok_status=302,
        happened=lambda r: (
            Registry.objects.get(pk=r.pk).ca_pem.strip() == STUB_CERT.pem.strip()
        ),
    ),
]

STUB_CERT = certificate_info(TestCA().localhost().cert_pem)


@pytest.fixture
def verify_calls(monkeypatch):
    """Replace the network probe; record which entries Verify was run for.

    Access control is under test here, not the protocol clients, so Verify
    answers "untrusted certificate" without touching the network.
    """
    calls = []

    def fake_verify(registry):
        calls.append(registry.address)
        return connect.VerifyOutcome(
            ok=False,
            message="stub: certificate not trusted",
            code="tls_untrusted",
            certificate=STUB_CERT,
        )

    monkeypatch.setattr(connect, "verify", fake_verify)
    return calls


@pytest.fixture
def entries(global_registry, registry_a, registry_b):
    return {"global": global_registry, "team-a": registry_a, "team-b": registry_b}


def state() -> tuple:
    """Return everything a refused request must leave untouched."""
    return (
        list(Registry.objects.order_by("pk").values()),
        list(Membership.objects.order_by("pk").values()),
        list(Project.objects.order_by("pk").values()),
        AuditEntry.objects.count(),
    )


def send(client, method: str, url: str, data: dict):
    return getattr(client, method)(url, data) if method == "post" else client.get(url)


def assert_outcome(response, outcome, ok_status: int, url: str) -> None:
    if outcome == OK:
        assert response.status_code == ok_status, response.content[:500]
    elif outcome == LOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login") + "?next=")
    elif outcome == ADMIN_LOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
    else:
        assert response.status_code == outcome, (url, response.content[:300])


ENTRY_CASES = [
    pytest.param(action, scope, persona, id=f"{action.label}-{scope}-{persona}")
    for action in ENTRY_ACTIONS
    for scope in ENTRY_ACCESS
    for persona in PERSONAS
]


@pytest.mark.parametrize(("action", "scope", "persona"), ENTRY_CASES)
def test_entry_actions(
    action, scope, persona, entries, personas, client_for, verify_calls
):
    registry = entries[scope]
    outcome = ENTRY_ACCESS[scope][persona]
    client = client_for(personas.get(persona))
    url = action.url(registry)
    before = state()

    response = send(client, action.method, url, action.data(registry))

    assert_outcome(response, outcome, action.ok_status, url)
    if outcome == OK:
        if action.happened:
            assert action.happened(registry), f"{action.label} did not happen"
    else:
        assert state() == before, f"{action.label} changed something when refused"
        assert verify_calls == [], "a refused request reached the registry"


# The Django admin's change page: only portal admins (staff) get in.
@pytest.mark.parametrize("scope", list(ENTRY_ACCESS))
@pytest.mark.parametrize("persona", PERSONAS)
def test_django_admin_change_page(scope, persona, entries, personas, client_for):
    registry = entries[scope]
    outcome = OK if persona == "portal_admin" else ADMIN_LOGIN
    url = reverse("admin:registries_registry_change", args=[registry.pk])
    before = state()

    response = client_for(personas.get(persona)).get(url)

    assert_outcome(response, outcome, 200, url)
    if outcome == OK:
        assert registry.name in response.content.decode()
    response = client_for(personas.get(persona)).post(url, {"name": "hijacked"})
    if outcome != OK:
        assert state() == before


def _membership(ctx_personas, persona: str) -> Membership:
    return Membership.objects.get(user=ctx_personas[persona])


@pytest.fixture
def newcomer(make_user):
    return make_user("dave")


# Pages and actions that are not about one entry.
PAGE_ACTIONS = [
    (
        Action("global registries", "get", lambda p: reverse("registry_global_list")),
        expect(403, portal_admin=OK),
    ),
    (
        Action(
            "registries of team-a",
            "get",
            lambda p: reverse("project_registries", args=["team-a"]),
        ),
        expect(OK, other_admin=404),
    ),
    (
        Action(
            "registries of team-b",
            "get",
            lambda p: reverse("project_registries", args=["team-b"]),
        ),
        expect(404, portal_admin=OK, other_admin=OK),
    ),
    (
        Action("add global page", "get", lambda p: reverse("registry_global_add")),
        expect(403, portal_admin=OK),
    ),
    (
        Action(
            "add global",
            "post",
            lambda p: reverse("registry_global_add"),
            data=lambda p: _form(p, name="Added"),
            ok_status=302,
            happened=lambda p: Registry.objects.filter(
                name="Added", project=None
            ).exists(),
        ),
        expect(403, portal_admin=OK),
    ),
    (
        Action(
            "add to team-a page",
            "get",
            lambda p: reverse("registry_project_add", args=["team-a"]),
        ),
        expect(403, portal_admin=OK, project_admin=OK, other_admin=404),
    ),
    (
        Action(
            "add to team-a",
            "post",
            lambda p: reverse("registry_project_add", args=["team-a"]),
            data=lambda p: _form(p, name="Added"),
            ok_status=302,
            happened=lambda p: Registry.objects.filter(
                name="Added", project__slug="team-a"
            ).exists(),
        ),
        expect(403, portal_admin=OK, project_admin=OK, other_admin=404),
    ),
    (
        Action(
            "verify the add form (global)",
            "post",
            lambda p: reverse("registry_global_verify_form"),
            data=_form,
        ),
        expect(403, portal_admin=OK),
    ),
    (
        Action(
            "verify the add form (team-a)",
            "post",
            lambda p: reverse("registry_project_verify_form", args=["team-a"]),
            data=_form,
        ),
        expect(403, portal_admin=OK, project_admin=OK, other_admin=404),
    ),
    (
        Action(
            "members of team-a",
            "get",
            lambda p: reverse("project_members", args=["team-a"]),
        ),
        expect(OK, other_admin=404),
    ),
    (
        Action(
            "add a member to team-a",
            "post",
            lambda p: reverse("project_members", args=["team-a"]),
            data=lambda p: {"user": p["newcomer"].pk, "role": Role.MEMBER},
            ok_status=302,
            happened=lambda p: Membership.objects.filter(user=p["newcomer"]).exists(),
        ),
        expect(403, portal_admin=OK, project_admin=OK, other_admin=404),
    ),
    (
        Action(
            "change a role in team-a",
            "post",
            lambda p: reverse(
                "project_member_role",
                args=["team-a", _membership(p, "viewer").pk],
            ),
            data=lambda p: {"role": Role.MEMBER},
            ok_status=302,
            happened=lambda p: _membership(p, "viewer").role == Role.MEMBER,
        ),
        expect(403, portal_admin=OK, project_admin=OK, other_admin=404),
    ),
    (
        Action(
            "remove a member of team-a",
            "post",
            lambda p: reverse(
                "project_member_remove",
                args=["team-a", _membership(p, "viewer").pk],
            ),
            ok_status=302,
            happened=lambda p: not Membership.objects.filter(user=p["viewer"]).exists(),
        ),
        expect(403, portal_admin=OK, project_admin=OK, other_admin=404),
    ),
    (
        Action("projects", "get", lambda p: reverse("project_admin_list")),
        expect(403, portal_admin=OK),
    ),
    (
        Action(
            "create a project",
            "post",
            lambda p: reverse("project_admin_list"),
            data=lambda p: {"name": "Team C", "slug": "", "description": ""},
            ok_status=302,
            happened=lambda p: Project.objects.filter(slug="team-c").exists(),
        ),
        expect(403, portal_admin=OK),
    ),
    (
        Action("audit log", "get", lambda p: reverse("audit_log")),
        expect(403, portal_admin=OK),
    ),
]

PAGE_CASES = [
    pytest.param(action, table[persona], persona, id=f"{action.label}-{persona}")
    for action, table in PAGE_ACTIONS
    for persona in PERSONAS
]


@pytest.mark.parametrize(("action", "outcome", "persona"), PAGE_CASES)
def test_pages(
    action, outcome, persona, entries, personas, newcomer, client_for, verify_calls
):
    people = {**personas, "newcomer": newcomer}
    client = client_for(personas.get(persona))
    url = action.url(people)
    before = state()

    response = send(client, action.method, url, action.data(people))

    assert_outcome(response, outcome, action.ok_status, url)
    if outcome == OK:
        if action.happened:
            assert action.happened(people), f"{action.label} did not happen"
    else:
        assert state() == before, f"{action.label} changed something when refused"
        assert verify_calls == []


# Which entries each list shows; another project's entry never appears.
LISTS = [
    ("registry_global_list", [], "portal_admin", {"global"}),
    ("project_registries", ["team-a"], "portal_admin", {"global", "team-a"}),
    ("project_registries", ["team-a"], "project_admin", {"global", "team-a"}),
    ("project_registries", ["team-a"], "member", {"global", "team-a"}),
    ("project_registries", ["team-a"], "viewer", {"global", "team-a"}),
    ("project_registries", ["team-b"], "portal_admin", {"global", "team-b"}),
    ("project_registries", ["team-b"], "other_admin", {"global", "team-b"}),
    ("library_repositories", [], "member", {"global", "team-a"}),
    ("library_repositories", [], "other_admin", {"global", "team-b"}),
]


@pytest.mark.parametrize(("name", "args", "persona", "shown"), LISTS)
def test_lists_show_only_entries_in_scope(
    name, args, persona, shown, entries, personas, client_for
):
    client = client_for(personas[persona])
    if args:
        client.post(reverse("project_switch"), {"project": args[0]})
    body = client.get(reverse(name, args=args)).content.decode()
    for scope, registry in entries.items():
        assert (registry.name in body) == (scope in shown), (scope, body[:2000])


@pytest.mark.parametrize("persona", ["project_admin", "member", "viewer"])
def test_members_cannot_reach_another_projects_members(persona, personas, client_for):
    client = client_for(personas[persona])
    other = Membership.objects.get(user=personas["other_admin"])
    for url in (
        reverse("project_members", args=["team-b"]),
        reverse("project_member_role", args=["team-b", other.pk]),
        reverse("project_member_remove", args=["team-b", other.pk]),
        # The right project in the URL must not reach another project's member.
        reverse("project_member_role", args=["team-a", other.pk]),
        reverse("project_member_remove", args=["team-a", other.pk]),
    ):
        before = state()
        response = client.post(url, {"role": Role.VIEWER})
        assert response.status_code in (403, 404), url
        if persona == "project_admin":
            assert response.status_code == 404, url
        assert state() == before


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("get", "registry_toggle"),
        ("get", "registry_verify"),
        ("get", "registry_trust"),
        ("get", "registry_verify_form"),
        ("put", "registry_edit"),
        ("delete", "registry_delete"),
    ],
)
def test_wrong_method_is_refused_without_change(
    method, name, registry_a, personas, client_for
):
    before = state()
    client = client_for(personas["portal_admin"])
    response = getattr(client, method)(reverse(name, args=[registry_a.pk]))
    assert response.status_code == 405
    assert state() == before

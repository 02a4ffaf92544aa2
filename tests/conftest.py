"""Shared fixtures: the personas every view test checks.

Django models are imported inside fixtures so that the protocol-client tests,
which need no database, can also run with ``-p no:django``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _fresh_client_caches():
    """Start every test with no config blob remembered from another one."""
    from registries.clients.v2 import _config_cache

    _config_cache.clear()


@pytest.fixture(autouse=True)
def _tasks_run_inline(request):
    """Run Celery tasks inline and hash passwords cheaply (tests only).

    Inline even when ``REDIS_URL`` names a broker (as in CI): no worker listens
    there. Tests of a real worker send to it through their own Celery client.
    """
    if not request.config.pluginmanager.has_plugin("django"):
        yield
        return
    from portal.celery import app as celery_app

    settings = request.getfixturevalue("settings")
    settings.PORTAL_INPROCESS_THREADS = 0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    was_eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = was_eager


@pytest.fixture
def make_user(db, django_user_model):
    def make(username: str, *, staff: bool = False):
        return django_user_model.objects.create_user(
            username=username, password=PASSWORD, is_staff=staff
        )

    return make


@pytest.fixture
def project_a(db):
    from portal.models import Project

    return Project.objects.create(name="Team A", slug="team-a")


@pytest.fixture
def project_b(db):
    from portal.models import Project

    return Project.objects.create(name="Team B", slug="team-b")


@pytest.fixture
def personas(make_user, project_a, project_b):
    """Return users by persona: portal admin, admin/member/viewer of A, admin of B."""
    from portal.models import Membership, Role

    people = {
        "portal_admin": make_user("root", staff=True),
        "project_admin": make_user("alice"),
        "member": make_user("bob"),
        "viewer": make_user("carol"),
        "other_admin": make_user("mallory"),
    }
    Membership.objects.create(
        project=project_a, user=people["project_admin"], role=Role.ADMIN
    )
    Membership.objects.create(
        project=project_a, user=people["member"], role=Role.MEMBER
    )
    Membership.objects.create(
        project=project_a, user=people["viewer"], role=Role.VIEWER
    )
    Membership.objects.create(
        project=project_b, user=people["other_admin"], role=Role.ADMIN
    )
    return people


@pytest.fixture
def client_for(client):
    """Return a client logged in as ``user`` (``None`` stays anonymous)."""
    from django.test import Client

    def make(user):
        c = Client()
        if user is not None:
            c.force_login(user)
        return c

    return make


@pytest.fixture
def global_registry(db, personas):
    from registries.services import registry_create

    return registry_create(
        acting_user=personas["portal_admin"],
        name="Corp registry",
        address="registry.corp.example",
        namespace="",
        username="svc",
        password="global-s3cret-value",
    )


@pytest.fixture
def registry_a(db, personas, project_a):
    from registries.services import registry_create

    return registry_create(
        acting_user=personas["project_admin"],
        project=project_a,
        name="Team A images",
        address="https://images.example.com:5000",
        namespace="team-a",
        username="robot",
        password="team-a-s3cret-value",
    )


@pytest.fixture
def registry_b(db, personas, project_b):
    from registries.services import registry_create

    return registry_create(
        acting_user=personas["other_admin"],
        project=project_b,
        name="Team B images",
        address="https://images.example.com:5000",
        namespace="team-b",
        username="robot-b",
        password="team-b-s3cret-value",
    )


def pytest_collection_modifyitems(config, items):
    """Skip browser tests, with the reason, where Debian's Chromium is missing."""
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"Debian's chromium is not installed at {CHROMIUM}")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def browser():
    """Launch Debian's Chromium, headless, through Playwright (one per module)."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is not installed"
    )
    # Playwright's sync API runs an event loop in this thread; Django would refuse
    # the test's own ORM calls without this (the server runs in its own thread).
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()

"""The API from a browser, in Debian's Chromium via Playwright.

A member creates and revokes an API token on its page, then uses the Swagger
UI: it loads from the portal's own static files (nothing from a CDN), and its
"Try it out" reaches the deploy guard with the browser's session and CSRF token.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(120),
]

playwright_sync = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed"
)
expect = playwright_sync.expect

PASSWORD = "browser-pass-123"


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.requested = []
    page.on("request", lambda request: page.requested.append(request.url))
    yield page
    context.close()


@pytest.fixture
def member(transactional_db, django_user_model):
    from portal.models import Membership, Project, Role
    from registries.services import registry_create

    user = django_user_model.objects.create_user(username="bob", password=PASSWORD)
    admin = django_user_model.objects.create_user(username="alice", password=PASSWORD)
    project = Project.objects.create(name="Team A", slug="team-a")
    Membership.objects.create(project=project, user=user, role=Role.MEMBER)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    registry_create(
        acting_user=admin,
        project=project,
        name="Team A images",
        address="images.example.com:5000",
        namespace="team-a",
    )
    return user


def log_in(page, live_server, next_path: str) -> None:
    page.goto(f"{live_server.url}{next_path}")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
    page.get_by_label("Username", exact=True).fill("bob")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}{next_path}")


def test_token_page_then_swagger_ui(page, live_server, member):
    from django.test import Client

    log_in(page, live_server, "/account/api-tokens/")
    page.get_by_label("Name", exact=True).fill("ci deploy guard")
    page.get_by_role("button", name="Create token").click()
    key = page.locator("#new-token-key").inner_text().strip()
    assert key.startswith("ptl_")
    me = Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}")
    assert me.json()["username"] == "bob"

    # Revoke in place (htmx), after the confirmation dialog.
    page.once("dialog", lambda dialog: dialog.accept())
    page.evaluate("window.portolanMarker = 'same page'")
    page.get_by_role("button", name="Revoke").click()
    expect(page.locator("#tokens")).to_contain_text("No API tokens yet.")
    assert page.evaluate("window.portolanMarker") == "same page"
    assert (
        Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}").status_code
        == 401
    )

    # The Swagger UI, with the browser's session.
    page.requested.clear()
    page.get_by_role("link", name="API documentation").click()
    operation = page.locator("#operations-access-check-access_check_create")
    expect(operation).to_be_visible()
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    body = {
        "project": "team-a",
        "image": "images.example.com:5000/team-a/app:1.0",
        "require_exists": False,
    }
    operation.locator("textarea.body-param__text").fill(json.dumps(body))
    operation.get_by_role("button", name="Execute").click()
    answer = operation.locator(".live-responses-table .response-col_description pre")
    expect(answer.first).to_contain_text('"allowed": true')
    expect(answer.first).to_contain_text("images.example.com:5000/team-a/app:1.0")

    portal = urlsplit(live_server.url).netloc
    elsewhere = [url for url in page.requested if urlsplit(url).netloc != portal]
    assert elsewhere == [], "the docs must not load anything from elsewhere"
    assert any("swagger-ui-bundle" in url for url in page.requested)

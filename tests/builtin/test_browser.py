"""The built-in registry's pages in Debian's Chromium via Playwright.

A project admin walks the Built-In Repositories tab over an image pushed to
the real registry (copying its pull command, deleting its tag after the
confirmation), and creates then revokes a robot account.
"""

from __future__ import annotations

import re
import uuid

import pytest

from tests.builtin.conftest import fetch_token
from tests.conftest import PASSWORD
from tests.support.images import ImagePusher

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(120),
]

playwright_sync = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed"
)
expect = playwright_sync.expect


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def log_in(page, live_server, username: str, next_path: str) -> None:
    page.goto(f"{live_server.url}{next_path}")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}{next_path}")


@pytest.mark.registry
def test_walk_the_builtin_tab_and_delete_a_tag(
    page, live_server, registry_settings, personas
):
    """Indexed by a crawl (this registry sends no notifications), then walked."""
    from library.models import Tag
    from library.services import crawl_request_for_entry
    from registries.builtin.services import builtin_registry_sync

    server = registry_settings
    entry = builtin_registry_sync()

    def authorize(scope: str) -> dict[str, str]:
        return {
            "Authorization": "Bearer " + fetch_token(server, [scope], "bob", PASSWORD)
        }

    name = f"team-a/shop-{uuid.uuid4().hex[:6]}"
    pusher = ImagePusher(server.url, verify=server.ca_path, authorize=authorize)
    pusher.image(name, "1.0")
    crawl_request_for_entry(acting_user=personas["portal_admin"], registry=entry)
    assert Tag.objects.filter(repository__name=name, name="1.0").exists()

    log_in(page, live_server, "alice", "/builtin-registry/repositories/")
    expect(page.get_by_role("heading", name=re.compile("Team A"))).to_be_visible()
    row = page.locator(f'tbody[data-repository="{name}"] tr[data-tag="1.0"]')
    expect(row).to_be_visible()
    pull = row.get_by_label("Pull command")
    expect(pull).to_have_value(f"docker pull {server.host_port}/{name}:1.0")
    row.get_by_role("button", name="Copy").click()
    expect(row.get_by_role("button", name="Copied")).to_be_visible()
    expect(page.locator("#builtin-login-command")).to_have_value(
        f"docker login {server.host_port} --username 'alice'"
    )

    # Dismissing the confirmation keeps the image.
    page.once("dialog", lambda dialog: dialog.dismiss())
    row.get_by_role("link", name="Delete", exact=True).click()
    page.wait_for_timeout(300)
    token = fetch_token(server, [f"repository:{name}:pull"], "root", PASSWORD)
    assert server.get(f"/v2/{name}/tags/list", token).json()["tags"] == ["1.0"]

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("link", name="Delete", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(
        f"Deleted {name}:1.0", timeout=20_000
    )
    assert not server.get(f"/v2/{name}/tags/list", token).json().get("tags")
    # The next crawl (or a notification) takes it out of the index and the tab.
    crawl_request_for_entry(acting_user=personas["portal_admin"], registry=entry)
    assert not Tag.objects.filter(repository__name=name).exists()
    page.reload()
    expect(
        page.locator(f'tbody[data-repository="{name}"] tr[data-tag="1.0"]')
    ).to_have_count(0)


def test_create_a_robot_and_revoke_it(page, live_server, builtin_settings, personas):
    from registries.builtin.models import RobotAccount

    builtin_settings.PORTAL_URL = live_server.url
    log_in(page, live_server, "alice", "/projects/team-a/robots/")
    page.get_by_label("Name", exact=True).fill("ci")
    page.get_by_label("Pull and push").check()
    page.get_by_label("Expires after").select_option("30")
    page.get_by_role("button", name="Create robot account").click()
    expect(
        page.get_by_text("it is not stored and will not be shown again")
    ).to_be_visible()
    secret = page.locator("#secret-value").inner_text()
    assert secret.startswith("plr_")
    expect(page.locator("#secret-username")).to_have_text("robot$team-a+ci")

    page.get_by_role("link", name="Done").click()
    row = page.locator("tr", has_text="robot$team-a+ci")
    expect(row).to_contain_text("Active")
    expect(page.locator("body")).not_to_contain_text(secret)
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke").click()
    expect(row).to_contain_text("Revoked")
    assert RobotAccount.objects.get(name="ci").revoked_at is not None

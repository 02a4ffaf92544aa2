"""Search, filter and open a repository in Debian's Chromium (Playwright).

The index is filled by crawling the real registry; the page is served by
pytest-django's live server. Results must update in place as one types.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.conftest import PASSWORD
from tests.library.conftest import crawl_entry

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.registry,
    pytest.mark.timeout(120),
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin"
    ),
]

playwright_sync = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed"
)
expect = playwright_sync.expect


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API runs an event loop in this thread; the test's own ORM
    # calls would be refused without this (the server runs in its own thread).
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def test_search_filter_and_open_a_repository(
    page, live_server, seeded_registry, make_entry, personas, project_a
):
    server = seeded_registry.server
    make_entry(server, namespace="tools", name="Tools")
    team = make_entry(server, project=project_a, namespace="team-a", name="Team A reg")
    assert crawl_entry(team).status == "succeeded"

    page.goto(f"{live_server.url}/library/")
    page.get_by_label("Username", exact=True).fill("bob")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(
        page.get_by_role("heading", name="All Repositories", exact=True)
    ).to_be_visible()
    page.wait_for_load_state("load")  # htmx has wired the page up

    page.evaluate("window.portolanMarker = 'same page'")
    page.get_by_role("searchbox").fill("frontend")  # a label value: full text
    results = page.locator("#hits a.hit-name")
    expect(results).to_have_text(["team-a/webshop"])
    page.get_by_role("searchbox").fill("team")
    expect(results).to_have_text(["team-a/api", "team-a/sub/worker", "team-a/webshop"])
    expect(page).to_have_url(re.compile(r"[?&]q=team"))

    page.get_by_text("Filters and sorting").click()
    page.get_by_label("Label", exact=True).fill("tier=backend")
    page.get_by_label("Label", exact=True).press("Tab")  # change → the form refreshes
    expect(results).to_have_text(["team-a/api"])
    page.get_by_label("OS/arch", exact=True).fill("linux/s390x")
    page.get_by_label("OS/arch", exact=True).press("Tab")
    expect(page.locator("#no-results")).to_contain_text("No repository matches")
    page.get_by_label("OS/arch", exact=True).fill("linux/arm64")
    page.get_by_label("OS/arch", exact=True).press("Tab")
    expect(results).to_have_text(["team-a/api"])
    assert page.evaluate("window.portolanMarker") == "same page"

    results.first.click()
    expect(page.get_by_role("heading", name="team-a/api")).to_be_visible()
    row = page.locator('tr.tag-row[data-tag="2.0"]')
    expect(row).to_contain_text("linux/arm64/v8")
    expect(row).to_contain_text("tier=backend")
    expect(page.locator("#pull-command")).to_have_value(
        f"docker pull {server.host_port}/team-a/api:2.0"
    )
    expect(page.locator("p.warning")).to_contain_text("--insecure-registry")


def test_leaving_the_search_box_for_next_lands_on_the_next_page(
    page, live_server, seeded_registry, make_entry, personas, project_a, monkeypatch
):
    """Clicking Next right after typing blurs the box: that must not race Next."""
    monkeypatch.setattr("library.forms.PAGE_SIZE", 1)
    server = seeded_registry.server
    team = make_entry(server, project=project_a, namespace="team-a", name="Team A reg")
    assert crawl_entry(team).status == "succeeded"

    page.goto(f"{live_server.url}/library/")
    page.get_by_label("Username", exact=True).fill("bob")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # htmx wires the page up once its deferred script has run: type after that.
    page.wait_for_url(re.compile(r"/library/$"))
    page.wait_for_load_state("load")
    page.wait_for_function("() => window.htmx !== undefined")
    requests = []
    page.on("request", lambda request: requests.append(request.url))

    page.get_by_role("searchbox").fill("team")
    pager = page.locator("nav.pager span")
    expect(pager).to_have_text("Page 1")
    requests.clear()
    page.get_by_role("link", name="Next").click()  # the box loses focus here
    expect(pager).to_have_text("Page 2")
    expect(page).to_have_url(re.compile(r"[?&]page=2"))
    page.wait_for_timeout(500)  # a late page-1 answer would land by now
    expect(pager).to_have_text("Page 2")
    assert [url for url in requests if "/library/" in url] == [
        url for url in requests if "page=2" in url
    ]

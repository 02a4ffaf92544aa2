"""A person's path through the registry pages, in Debian's Chromium via Playwright.

Runs against pytest-django's live server: log in through the form, add an entry
(meeting a validation error and the plain-HTTP warning on the way), and disable
it from the list without the page reloading.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SCREENSHOTS = Path("/tmp")

pytestmark = [
    pytest.mark.browser,
]

playwright_sync = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed"
)
expect = playwright_sync.expect


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def admin_user(transactional_db, django_user_model):
    return django_user_model.objects.create_user(
        username="root", password="browser-pass-123", is_staff=True
    )


def log_in(page, live_server, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/administration/registries/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}/administration/registries/")


def test_add_then_disable_a_registry_in_place(page, live_server, admin_user):
    from registries.models import Registry

    log_in(page, live_server, "root", "browser-pass-123")
    expect(page.get_by_role("heading", name="Global registries")).to_be_visible()

    page.get_by_role("link", name="Add registry").click()
    expect(page.get_by_role("heading", name="Add registry")).to_be_visible()
    # The plain-HTTP opt-in comes with its warning about Docker hosts.
    warning = page.locator("p.warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("--insecure-registry")

    page.evaluate("window.portolanMarker = 'still the same page'")
    page.get_by_label("Name", exact=True).fill("Lab registry")
    page.get_by_label("Address", exact=True).fill("http://10.9.8.7:5000")
    page.get_by_label("Namespace", exact=True).fill("Team A")
    page.get_by_role("button", name="Save").click()

    # Errors are swapped into the form in place, next to their fields.
    namespace_error = page.locator(
        ".field.invalid", has=page.get_by_label("Namespace", exact=True)
    )
    expect(namespace_error).to_contain_text("is not a valid namespace")
    plain_http = page.locator(
        ".field.invalid", has=page.get_by_label("Allow plain HTTP", exact=True)
    )
    expect(plain_http).to_contain_text("Tick “Allow plain HTTP”")
    assert page.evaluate("window.portolanMarker") == "still the same page"
    expect(page.get_by_label("Name", exact=True)).to_have_value("Lab registry")
    page.screenshot(path=str(SCREENSHOTS / "portolan-registry-form-errors.png"))
    assert not Registry.objects.filter(name="Lab registry").exists()

    page.get_by_label("Namespace", exact=True).fill("team-a")
    page.get_by_label("Allow plain HTTP", exact=True).check()
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(f"{live_server.url}/administration/registries/")
    expect(page.get_by_text("Registry “Lab registry” added.")).to_be_visible()
    registry = Registry.objects.get(name="Lab registry")
    assert registry.address == "http://10.9.8.7:5000"
    assert registry.allow_plain_http and registry.enabled

    row = page.locator(f"#registry-{registry.pk}")
    expect(row).to_contain_text("Enabled")
    expect(row.locator(".badge.warn")).to_have_text("HTTP")
    page.evaluate("window.portolanMarker = 'no reload please'")

    row.get_by_role("button", name="Disable").click()

    expect(row).to_contain_text("Disabled")
    expect(row).to_have_class(re.compile(r"\bdisabled\b"))
    expect(row.get_by_role("button", name="Enable")).to_be_visible()
    assert page.evaluate("window.portolanMarker") == "no reload please"
    registry.refresh_from_db()
    assert registry.enabled is False
    page.screenshot(path=str(SCREENSHOTS / "portolan-registries.png"), full_page=True)

    # And back, still in place.
    row.get_by_role("button", name="Enable").click()
    expect(row.get_by_role("button", name="Disable")).to_be_visible()
    assert page.evaluate("window.portolanMarker") == "no reload please"
    registry.refresh_from_db()
    assert registry.enabled is True


def test_wrong_password_is_refused_on_the_login_form(page, live_server, admin_user):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username", exact=True).fill("root")
    page.get_by_label("Password", exact=True).fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("form")).to_contain_text("correct username and password")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


@pytest.fixture
def team(transactional_db, django_user_model):
    """A project with an admin, a viewer, a global entry and a project entry."""
    from portal.models import Membership, Project, Role
    from registries.services import registry_create

    project = Project.objects.create(name="Team A", slug="team-a")
    alice = django_user_model.objects.create_user(
        username="alice", password="pw-alice-1"
    )
    carol = django_user_model.objects.create_user(
        username="carol", password="pw-carol-1"
    )
    Membership.objects.create(project=project, user=alice, role=Role.ADMIN)
    Membership.objects.create(project=project, user=carol, role=Role.VIEWER)
    registry_create(acting_user=None, name="Corp mirror", address="mirror.example.com")
    registry_create(
        acting_user=alice,
        project=project,
        name="Team A images",
        address="127.0.0.1:9",  # nothing listens: Verify fails fast
        namespace="team-a",
        username="robot",
        password="browser-s3cret",
    )
    return project


def test_a_project_admin_finds_their_way(page, live_server, team):
    problems = []
    page.on(
        "console",
        lambda message: (
            problems.append(message.text) if message.type == "error" else None
        ),
    )
    page.on("requestfailed", lambda request: problems.append(request.url))
    page.on(
        "response",
        lambda response: (
            problems.append(f"{response.status} {response.url}")
            if response.status >= 400 and not response.url.endswith("/login/")
            else None
        ),
    )
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username", exact=True).fill("alice")
    page.get_by_label("Password", exact=True).fill("pw-alice-1")
    page.get_by_role("button", name="Log in").click()

    page.get_by_role("link", name="Registries", exact=True).click()
    expect(page.get_by_role("heading", name="Registries of Team A")).to_be_visible()
    global_row = page.locator("tr", has_text="Corp mirror")
    expect(global_row).to_contain_text("read-only")
    own_row = page.locator("tr", has_text="Team A images")
    expect(own_row.get_by_role("button", name="Disable")).to_be_visible()
    assert "browser-s3cret" not in page.content()
    page.screenshot(path=str(SCREENSHOTS / "portolan-project-registries.png"))

    own_row.get_by_role("link", name="Edit").click()
    expect(page.get_by_label("Password or access token", exact=True)).to_have_value("")
    expect(
        page.get_by_text("A password is stored. Leave empty to keep it.")
    ).to_be_visible()
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#verify-result .verify-result")).to_be_visible()
    page.screenshot(
        path=str(SCREENSHOTS / "portolan-registry-edit.png"), full_page=True
    )

    page.get_by_role("link", name="Members", exact=True).click()
    expect(page.get_by_role("heading", name="Members of Team A")).to_be_visible()
    carol_row = page.locator("tr", has_text="carol")
    carol_row.get_by_role("combobox").select_option("member")
    carol_row.get_by_role("button", name="Change").click()
    expect(page.get_by_text("Role changed.")).to_be_visible()
    expect(page.locator("tr", has_text="carol").get_by_role("combobox")).to_have_value(
        "member"
    )
    page.screenshot(path=str(SCREENSHOTS / "portolan-members.png"), full_page=True)

    # Removing asks first; saying no keeps the member.
    questions = []

    def answer(dialog, accept):
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, accept=False))
    page.locator("tr", has_text="carol").get_by_role("button", name="Remove").click()
    expect(page.locator("tr", has_text="carol")).to_be_visible()
    assert questions == ["Remove carol from this project?"]
    page.once("dialog", lambda dialog: answer(dialog, accept=True))
    page.locator("tr", has_text="carol").get_by_role("button", name="Remove").click()
    expect(page.get_by_text("Member removed.")).to_be_visible()
    expect(page.locator("#members tr", has_text="carol")).to_have_count(0)
    assert len(questions) == 2
    assert problems == []


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory):
    """The real distribution registry over TLS, from a CA the portal does not know."""
    from tests.support.certs import TestCA
    from tests.support.registry import RegistryServer, registry_binary

    if registry_binary() is None:
        pytest.skip("docker-registry is not installed")
    server = RegistryServer(
        "https", workdir=tmp_path_factory.mktemp("browser-registry"), ca=TestCA()
    ).start()
    yield server
    server.stop()


def test_verify_shows_the_certificate_and_trust_fixes_it(
    page, live_server, admin_user, tls_registry
):
    from registries.services import registry_create

    registry = registry_create(
        acting_user=admin_user, name="Private TLS", address=tls_registry.url
    )
    log_in(page, live_server, "root", "browser-pass-123")
    health = page.locator(f"#health-{registry.pk}")
    page.locator(f"#registry-{registry.pk}").get_by_role(
        "button", name="Verify"
    ).click()
    expect(health).to_contain_text("is not trusted")
    expect(health).to_contain_text("Portolan Test CA")
    page.screenshot(path=str(SCREENSHOTS / "portolan-verify-certificate.png"))

    health.get_by_role("button", name="Trust this certificate").click()
    expect(health).to_contain_text("Verified")
    registry.refresh_from_db()
    assert registry.ca_pem.startswith("-----BEGIN CERTIFICATE-----")
    assert registry.verify_status == "ok"


@pytest.fixture(scope="module")
def basic_auth_registry(tmp_path_factory):
    """The real distribution registry over TLS with htpasswd (bcrypt) Basic auth."""
    from tests.support.certs import TestCA
    from tests.support.registry import RegistryServer, registry_binary

    if registry_binary() is None:
        pytest.skip("docker-registry is not installed")
    server = RegistryServer(
        "basic",
        workdir=tmp_path_factory.mktemp("browser-basic-registry"),
        ca=TestCA(),
        users={"alice": "wonderland"},
    ).start()
    yield server
    server.stop()


def test_verify_in_the_form_tells_a_trusted_registry_from_a_wrong_password(
    page, live_server, admin_user, basic_auth_registry
):
    """Verify unsaved form values: the right password verifies, a wrong one not."""
    log_in(page, live_server, "root", "browser-pass-123")
    page.goto(f"{live_server.url}/administration/registries/add/")
    page.get_by_label("Name", exact=True).fill("Team registry")
    page.get_by_label("Address", exact=True).fill(basic_auth_registry.url)
    page.get_by_label("Username", exact=True).fill("alice")
    page.get_by_label("Password or access token", exact=True).fill("not-the-password")
    # The admin trusts the registry's CA up front, so TLS is not the question.
    page.get_by_label("Trusted certificate (PEM)", exact=True).fill(
        basic_auth_registry.ca.cert_pem
    )
    result = page.locator("#verify-result")

    page.get_by_role("button", name="Verify").click()
    expect(result).to_contain_text("Verification failed")
    expect(result).to_contain_text("credentials")
    expect(result).not_to_contain_text("not-the-password")

    page.get_by_label("Password or access token", exact=True).fill("wonderland")
    page.get_by_role("button", name="Verify").click()
    expect(result).to_contain_text("Verified")
    expect(result).to_contain_text("V2")
    page.screenshot(path=str(SCREENSHOTS / "portolan-verify-form.png"))
    # Nothing was saved by verifying.
    from registries.models import Registry

    assert not Registry.objects.filter(name="Team registry").exists()

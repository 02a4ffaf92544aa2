"""From push to the Built-In Repositories tab and back out, with every real part.

``manage.py builtin_registry config`` writes the configuration (token realm and
notifications on the live server); the real docker-registry serves it; skopeo
pushes as a member; the registry's notification reaches the Library's webhook,
whose refresh reads the registry as the portal's crawler robot; a project admin
deletes the tag from the tab.
"""

from __future__ import annotations

import shutil
import time

import pytest

from tests.builtin.conftest import Skopeo, fetch_token
from tests.builtin.oci import oci_layout
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.registry, pytest.mark.timeout(120)]

TAB = "/builtin-registry/repositories/"


def wait_for(predicate, timeout: float = 15.0):
    """Poll ``predicate``; SQLite's shared test database may be busy meanwhile."""
    from django.db import OperationalError

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except OperationalError:  # the live server is writing the index
            value = None
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def test_push_shows_in_the_tab_and_delete_removes_it(
    notifying_builtin, personas, project_a, client_for, tmp_path
):
    from library.models import Tag
    from library.selectors import builtin_repositories
    from portal.models import AuditEntry

    binary = shutil.which("skopeo")
    if binary is None:
        pytest.skip("skopeo is not installed")
    server = notifying_builtin
    # Log in before pushing: the live server writes the index meanwhile, and
    # SQLite's shared in-memory test database allows one writer at a time.
    member = client_for(personas["member"])
    admin = client_for(personas["project_admin"])
    skopeo = Skopeo(binary, tmp_path, server)
    assert skopeo.login("bob", PASSWORD).returncode == 0
    oci_layout(tmp_path / "image", "1")
    started = time.monotonic()
    pushed = skopeo.push(tmp_path / "image", "1", "team-a/app:1")
    assert pushed.returncode == 0, pushed.stderr

    wait_for(lambda: Tag.objects.filter(repository__name="team-a/app", name="1"))
    latency = time.monotonic() - started
    assert latency < 10, f"shown after {latency:.1f}s"
    html = member.get(TAB).content.decode()
    assert 'data-repository="team-a/app"' in html
    assert f"docker pull {server.host_port}/team-a/app:1" in html
    # The Library's own search finds it too.
    hits = builtin_repositories(personas["member"], project_a).hits
    assert [hit.name for hit in hits] == ["team-a/app"]

    response = admin.post(
        "/builtin-registry/repositories/delete-tag/",
        {"repository": "team-a/app", "tag": "1"},
    )
    assert response.status_code == 302
    wait_for(lambda: not Tag.objects.filter(repository__name="team-a/app").exists())
    token = fetch_token(server, ["repository:team-a/app:pull"], "root", PASSWORD)
    listed = server.get("/v2/team-a/app/tags/list", token).json()
    assert not listed.get("tags")
    assert 'data-tag="1"' not in member.get(TAB).content.decode()
    entry = AuditEntry.objects.get(action="builtin.tag_delete")
    assert entry.actor == personas["project_admin"]
    assert entry.project == project_a

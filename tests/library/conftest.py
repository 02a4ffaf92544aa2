"""Fixtures for the Library: real registries with real images, entries, crawls.

``seeded_registry`` is one session-scoped plain-HTTP distribution registry with
the :data:`SEED` images pushed once; tests that push, re-tag or delete start
their own with ``fresh_registry``. Everything that needs the registry binary
skips with a clear reason when it is missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
import requests

from tests.support.images import ImagePusher
from tests.support.registry import RegistryServer, registry_binary
from tests.support.settle import wait_for_database_sessions_to_settle

MISSING_REGISTRY = (
    "docker-registry (the distribution registry, Debian package "
    "'docker-registry') is not installed"
)


def require_registry() -> None:
    if registry_binary() is None:
        pytest.skip(MISSING_REGISTRY)


def require_skopeo() -> str:
    path = shutil.which("skopeo")
    if path is None:
        pytest.skip("skopeo is not installed")
    return path


@dataclass
class Seeded:
    """The session registry and what was pushed to it."""

    server: RegistryServer
    digests: dict[str, str] = field(default_factory=dict)  # "repo:tag" -> digest


CREATED = datetime(2024, 5, 17, 8, 30, 12, 123456, tzinfo=UTC)


def seed(pusher: ImagePusher) -> dict[str, str]:
    """Push the images every read-only Library test relies on."""
    digests = {}
    web = pusher.image(
        "team-a/webshop",
        "1.0",
        labels={"org.opencontainers.image.title": "webshop", "tier": "frontend"},
        created=CREATED,
    )
    digests["team-a/webshop:1.0"] = web.digest
    # "latest" is the same manifest: one digest, described once.
    digests["team-a/webshop:latest"] = pusher.tag(
        "team-a/webshop", web.digest, web.media_type, "latest"
    )
    digests["team-a/webshop:1.1"] = pusher.image(
        "team-a/webshop", "1.1", labels={"tier": "frontend"}
    ).digest
    multi = pusher.index("team-a/api", "2.0", labels={"tier": "backend"})
    digests["team-a/api:2.0"] = multi.digest
    digests["team-a/sub/worker:1"] = pusher.image(
        "team-a/sub/worker", "1", architecture="arm64", variant="v8"
    ).digest
    digests["team-b/ledger:latest"] = pusher.image(
        "team-b/ledger", "latest", labels={"tier": "backend", "owner": "team-b"}
    ).digest
    digests["team-ab/decoy:latest"] = pusher.image("team-ab/decoy", "latest").digest
    digests["tools/postgres-backup:15"] = pusher.image(
        "tools/postgres-backup",
        "15",
        labels={"org.opencontainers.image.description": "nightly database dumps"},
    ).digest
    digests["mirror/nginx:1.25"] = pusher.image("mirror/nginx", "1.25").digest
    return digests


@pytest.fixture(scope="session")
def seeded_registry(tmp_path_factory) -> Seeded:
    """Run one plain-HTTP registry with the seed images for the whole session."""
    require_registry()
    server = RegistryServer(
        "http", workdir=tmp_path_factory.mktemp("library-registry")
    ).start()
    try:
        yield Seeded(server=server, digests=seed(server.pusher()))
    finally:
        server.stop()


@pytest.fixture
def fresh_registry(tmp_path, request):
    """Start an empty plain-HTTP registry for one test (extra config allowed)."""
    require_registry()
    started: list[RegistryServer] = []

    def start(**kwargs) -> RegistryServer:
        server = RegistryServer(
            "http", workdir=tmp_path / f"registry-{len(started)}", **kwargs
        ).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
    if started and "live_server" in request.fixturenames:
        # A registry may have posted to the live server until it stopped.
        wait_for_database_sessions_to_settle()


@pytest.fixture(autouse=True)
def _no_docker_hub(request):
    """Remove the default Docker Hub entry: there is no network here."""
    if "live_server" in request.fixturenames or "transactional_db" in (
        request.fixturenames
    ):
        request.getfixturevalue("transactional_db")
    else:
        request.getfixturevalue("db")
    from registries.models import DOCKER_HUB_ADDRESS, Registry

    Registry.objects.filter(address=DOCKER_HUB_ADDRESS).delete()


@pytest.fixture
def make_entry(personas):
    """Create a registry entry for a server (global unless ``project`` is given)."""
    from registries.services import registry_create

    def make(server: RegistryServer, *, project=None, namespace="", **fields):
        acting = (
            personas["portal_admin"] if project is None else personas["project_admin"]
        )
        username, password = server.credentials
        values = {
            "name": f"{server.host_port} {namespace or 'all'}",
            "address": server.url,
            "namespace": namespace,
            "allow_plain_http": not server.tls,
            "username": username,
            "password": password,
            "ca_pem": server.ca_pem,
            **fields,
        }
        return registry_create(acting_user=acting, project=project, **values)

    return make


def crawl_entry(entry, **kwargs):
    """Queue and run a crawl of the entry's source in this thread; return it."""
    from library import services

    source = services.source_for_entry(entry)
    crawl = services.crawl_request(source=source)
    services.crawl_run(crawl_id=crawl.pk, **kwargs)
    crawl.refresh_from_db()
    return crawl


def catalog(server: RegistryServer) -> list[str]:
    """Return the registry's catalog, read with plain requests (not our client)."""
    response = requests.get(
        f"{server.url}/v2/_catalog?n=1000", verify=server.verify(), timeout=10
    )
    response.raise_for_status()
    return response.json()["repositories"]


def skopeo(server: RegistryServer, command: str, reference: str, *extra: str):
    """Run ``skopeo <command> docker://host/<reference>``; return parsed JSON."""
    binary = require_skopeo()
    result = subprocess.run(
        [
            binary,
            command,
            *server.skopeo_args(),
            *extra,
            f"docker://{server.host_port}/{reference}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if result.returncode != 0:
        raise AssertionError(f"skopeo {command} {reference}: {result.stderr}")
    return json.loads(result.stdout)


def skopeo_view(server: RegistryServer) -> dict[str, dict[str, str]]:
    """Return ``{repository: {tag: digest}}`` as skopeo sees the registry."""
    import hashlib

    binary = require_skopeo()
    view = {}
    for name in catalog(server):
        tags = skopeo(server, "list-tags", name)["Tags"] or []
        if not tags:
            continue
        view[name] = {}
        for tag in tags:
            raw = subprocess.run(
                [
                    binary,
                    "inspect",
                    "--raw",
                    *server.skopeo_args(),
                    f"docker://{server.host_port}/{name}:{tag}",
                ],
                capture_output=True,
                timeout=30,
                check=True,
            ).stdout
            view[name][tag] = "sha256:" + hashlib.sha256(raw).hexdigest()
    return view


def index_view(entry) -> dict[str, dict[str, str]]:
    """Return ``{repository: {tag: digest}}`` as the index holds it for ``entry``."""
    from library.models import Tag
    from library.services import source_for_entry

    view: dict[str, dict[str, str]] = {}
    rows = Tag.objects.filter(repository__source=source_for_entry(entry))
    for repository, tag, digest in rows.values_list(
        "repository__name", "name", "digest"
    ):
        view.setdefault(repository, {})[tag] = digest
    return view

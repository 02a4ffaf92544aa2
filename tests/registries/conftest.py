"""Real distribution registries (``docker-registry serve``) for the client tests.

Session-scoped and started once (each starts in well under a second):

- ``http_registry``, ``https_registry``, ``basic_registry``, ``token_registry``:
  a :class:`tests.support.registry.RegistryServer` each, in that mode;
  ``registry`` is parametrised over all four. ``registry.client_config()``
  gives a working ``ClientConfig``; ``registry.pusher()`` an
  :class:`~tests.support.images.ImagePusher` with push rights.
- ``seeded``: the ``registry`` with the :class:`Seed` images pushed.
- ``token_server`` (the token service behind ``token_registry``), ``test_ca``.
- ``start_registry(mode, **kwargs)``: start another registry for one test
  (custom certificate, ``extra_config`` such as notifications, a dead token
  realm); it is stopped when the test ends.

Everything skips with a clear reason when the ``docker-registry`` binary is
missing.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from tests.support.certs import TestCA
from tests.support.images import PushedImage, PushedIndex
from tests.support.registry import MODES, RegistryServer, registry_binary
from tests.support.tokenserver import TokenServer

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


REGISTRY_FIXTURES = frozenset(
    {
        "http_registry",
        "https_registry",
        "basic_registry",
        "token_registry",
        "registry",
        "seeded",
        "start_registry",
    }
)


def pytest_collection_modifyitems(items):
    """Mark every test that runs the real registry with ``registry``."""
    for item in items:
        if REGISTRY_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.registry)


@pytest.fixture(scope="session")
def test_ca() -> TestCA:
    """Return the CA that signs every test certificate of the session."""
    return TestCA()


@pytest.fixture(scope="session")
def token_server(test_ca, tmp_path_factory):
    """Run the token service that ``token_registry`` trusts."""
    server = TokenServer(test_ca).start(tmp_path_factory.mktemp("token-server"))
    yield server
    server.stop()


def _session_registry(mode, request, tmp_path_factory):
    require_registry()
    ca = request.getfixturevalue("test_ca")
    token = request.getfixturevalue("token_server") if mode == "token" else None
    server = RegistryServer(
        mode,
        workdir=tmp_path_factory.mktemp(f"registry-{mode}"),
        ca=ca,
        token_server=token,
    ).start()
    return server


@pytest.fixture(scope="session")
def http_registry(request, tmp_path_factory):
    server = _session_registry("http", request, tmp_path_factory)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def https_registry(request, tmp_path_factory):
    server = _session_registry("https", request, tmp_path_factory)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def basic_registry(request, tmp_path_factory):
    server = _session_registry("basic", request, tmp_path_factory)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def token_registry(request, tmp_path_factory):
    server = _session_registry("token", request, tmp_path_factory)
    yield server
    server.stop()


@pytest.fixture(scope="session", params=MODES)
def registry(request) -> RegistryServer:
    """Return each of the four session registries in turn."""
    return request.getfixturevalue(f"{request.param}_registry")


@pytest.fixture
def start_registry(test_ca, token_server, tmp_path_factory):
    """Start extra registries for one test: ``start_registry(mode, **kwargs)``."""
    require_registry()
    started: list[RegistryServer] = []

    def start(mode: str = "http", **kwargs) -> RegistryServer:
        kwargs.setdefault("ca", test_ca)
        if mode == "token":
            kwargs.setdefault("token_server", token_server)
        workdir = tmp_path_factory.mktemp(f"extra-{mode}")
        server = RegistryServer(mode, workdir=workdir, **kwargs)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


# -- seeded content -------------------------------------------------------------

CATALOG_PREFIX = "cat/a/"
# Chosen so that names without the prefix sort on both sides of it in both
# the byte order and distribution's "/ first" order. No name is the parent of
# another ("cat/a" next to "cat/a/1"): 2.8 walks its storage tree, lists such
# a parent among its children and drops it when a page ends inside them.
CATALOG_NAMES = (
    "cat/a-x",
    "cat/a.y",
    "cat/a/1",
    "cat/a/2",
    "cat/a/3",
    "cat/a/sub/4",
    "cat/a0",
    "cat/b/1",
    "zz/after/1",
    "zz/after/2",
    "zz/after/3",
    "zz/after/4",
)


@dataclass(frozen=True)
class Seed:
    """What was pushed to a seeded registry."""

    registry: RegistryServer
    schema2: PushedImage  # seed/app:v1 (also tagged "latest")
    oci: PushedImage  # seed/app:v2-oci
    oci_index: PushedIndex  # seed/multi:oci (with attestation entries)
    docker_list: PushedIndex  # seed/multi:docker
    app_tags: tuple[str, ...]
    catalog: tuple[str, ...]  # every repository name


_seeds: dict[str, Seed] = {}


def _seed(server: RegistryServer) -> Seed:
    pusher = server.pusher()
    created = datetime(2024, 5, 17, 8, 30, 15, 250000, tzinfo=UTC)
    labels = {"org.opencontainers.image.title": "app", "team": "blue"}
    schema2 = pusher.image("seed/app", "v1", labels=labels, created=created)
    pusher.tag("seed/app", schema2.digest, schema2.media_type, "latest")
    oci = pusher.image(
        "seed/app",
        "v2-oci",
        labels={"flavour": "oci"},
        architecture="arm64",
        variant="v8",
        oci=True,
        layers=3,
    )
    oci_index = pusher.index(
        "seed/multi", "oci", attestations=True, labels={"kind": "index"}
    )
    docker_list = pusher.index(
        "seed/multi",
        "docker",
        [("linux", "amd64", ""), ("linux", "s390x", "")],
        oci=False,
        labels={"kind": "list"},
        created=created,
    )
    gone = pusher.image("seed/gone", "only")
    pusher.delete("seed/gone", gone.digest)
    for name in CATALOG_NAMES:
        pusher.image(name, "t", layers=1)
    catalog = sorted(
        {"seed/app", "seed/multi", "seed/gone", *CATALOG_NAMES},
        key=lambda name: name.replace("/", "\x00"),
    )
    return Seed(
        registry=server,
        schema2=schema2,
        oci=oci,
        oci_index=oci_index,
        docker_list=docker_list,
        app_tags=("v1", "latest", "v2-oci"),
        catalog=tuple(catalog),
    )


@pytest.fixture(scope="session")
def seeded(registry) -> Seed:
    """Return ``registry`` with the standard images pushed (once per registry)."""
    if registry.mode not in _seeds:
        _seeds[registry.mode] = _seed(registry)
    return _seeds[registry.mode]

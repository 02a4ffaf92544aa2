"""The V2 client against the real distribution registry, checked against skopeo.

Every test in the ``seeded`` section runs once per registry mode (plain HTTP,
HTTPS, HTTPS + Basic, HTTPS + token) on the same pushed images.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
import subprocess
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from registries.clients import errors
from registries.clients.base import RegistryAdapter
from registries.clients.types import ClientConfig, Platform
from registries.clients.v2 import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    V2Client,
    parse_created,
)
from tests.registries.conftest import CATALOG_NAMES, CATALOG_PREFIX, require_skopeo
from tests.support.tokenserver import Reply, StubServer


def skopeo(registry, command: str, reference: str, *extra: str) -> dict:
    """Run ``skopeo <command>`` on ``docker://<registry>/<reference>``; parse JSON."""
    binary = require_skopeo()
    result = subprocess.run(
        [
            binary,
            command,
            *registry.skopeo_args(),
            *extra,
            f"docker://{registry.host_port}/{reference}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def counting(client: V2Client) -> list[str]:
    """Record every URL the client GETs as JSON."""
    urls: list[str] = []
    original = client.transport.get_json

    def get_json(url, **kwargs):
        urls.append(url)
        return original(url, **kwargs)

    client.transport.get_json = get_json
    return urls


def page_size(url: str) -> int:
    """Return the ``n`` a catalog URL asks for."""
    return int(parse_qs(urlsplit(url).query)["n"][0])


def same_instant(created, skopeo_created: str) -> bool:
    """Compare our datetime with skopeo's nanosecond RFC 3339 text."""
    return skopeo_created.startswith(created.strftime("%Y-%m-%dT%H:%M:%S.%f"))


@pytest.fixture
def client(seeded):
    with V2Client(seeded.registry.client_config()) as client:
        yield client


# -- every mode ---------------------------------------------------------------------


def test_v2_client_is_a_registry_adapter(client):
    assert isinstance(client, RegistryAdapter)
    assert client.can_list and not client.can_search
    with pytest.raises(errors.NotSupported):
        client.search("app")


def test_ping(client):
    client.ping()


def test_catalog_pages_through_everything(seeded):
    with V2Client(seeded.registry.client_config(), page_size=2) as client:
        urls = counting(client)
        names = [repo.name for repo in client.list_repositories()]
    assert names == list(seeded.catalog)
    assert len(urls) >= len(seeded.catalog) // 2
    assert all("n=2" in url for url in urls)


def test_catalog_with_a_namespace_prefix_stops_past_it(seeded):
    expected = [n for n in CATALOG_NAMES if n.startswith(CATALOG_PREFIX)]
    with V2Client(seeded.registry.client_config(), page_size=2) as client:
        urls = counting(client)
        names = [repo.name for repo in client.list_repositories(CATALOG_PREFIX)]
    assert sorted(names) == sorted(expected)
    assert "last=cat%2Fa" in urls[0]
    # Four matching names in pages of two, plus at most the page that shows
    # a name past the prefix; never the seven repositories after it.
    assert len(urls) <= 4


def test_catalog_prefix_without_matches_is_empty(client):
    assert list(client.list_repositories("nothing-here/")) == []


@pytest.mark.registry
def test_catalog_smaller_than_our_page_size_is_read_in_smaller_pages(start_registry):
    """A registry with ``catalog.maxentries: 3`` refuses ``n=1000``; we halve ``n``."""
    registry = start_registry("http", extra_config={"catalog": {"maxentries": 3}})
    pusher = registry.pusher()
    pushed = [f"small/{i}" for i in range(7)]
    for name in pushed:
        pusher.image(name, "t", layers=1)
    with V2Client(registry.client_config()) as client:
        urls = counting(client)
        names = [repo.name for repo in client.list_repositories()]
        assert names == pushed
        sizes = [page_size(url) for url in urls]
        # 1000 down to 7 are refused; then pages of three.
        assert sizes[:8] == [1000, 500, 250, 125, 62, 31, 15, 7]
        assert set(sizes[8:]) == {3} and len(sizes[8:]) >= 3
        assert client.page_size == 3
        # The next listing starts at the size that worked.
        urls.clear()
        assert [repo.name for repo in client.list_repositories()] == pushed
        assert {page_size(url) for url in urls} == {3}


def test_other_catalog_refusals_are_not_retried():
    def handle(request):
        body = {"errors": [{"code": "UNSUPPORTED", "message": "no"}]}
        return Reply(400, body)

    with StubServer(handle) as server, V2Client(http_config(server.url)) as client:
        with pytest.raises(errors.RequestRejected):
            list(client.list_repositories())
    assert len(server.received) == 1


def test_tags_match_skopeo(seeded, client):
    tags = client.list_tags("seed/app")
    assert sorted(tags) == sorted(seeded.app_tags)
    listed = skopeo(seeded.registry, "list-tags", "seed/app")
    assert sorted(tags) == sorted(listed["Tags"])


def test_tags_of_a_repository_whose_manifests_are_deleted_are_empty(client):
    assert client.list_tags("seed/gone") == []


def test_unknown_repository_is_not_found(client):
    with pytest.raises(errors.NotFound) as caught:
        client.list_tags("no/such/repo")
    assert "NAME_UNKNOWN" in caught.value.message


def test_head_digest_matches_the_push_and_skopeo(seeded, client):
    digest = client.head_digest("seed/app", "v1")
    assert digest == seeded.schema2.digest
    assert digest == skopeo(seeded.registry, "inspect", "seed/app:v1")["Digest"]
    assert client.head_digest("seed/multi", "oci") == seeded.oci_index.digest
    with pytest.raises(errors.NotFound):
        client.head_digest("seed/app", "no-such-tag")


def test_describe_docker_schema2_image(seeded, client):
    pushed = seeded.schema2
    details = client.describe("seed/app", "v1")
    assert details.digest == pushed.digest
    assert details.media_type == DOCKER_MANIFEST
    assert details.size == pushed.size
    assert details.created == pushed.created
    assert details.platforms == (Platform("linux", "amd64"),)
    assert details.labels == pushed.labels

    seen = skopeo(seeded.registry, "inspect", "seed/app:v1")
    assert seen["Digest"] == details.digest
    assert seen["Labels"] == details.labels
    assert (seen["Os"], seen["Architecture"]) == ("linux", "amd64")
    assert same_instant(details.created, seen["Created"])
    layers = skopeo(seeded.registry, "inspect", "seed/app:v1", "--raw")
    assert details.size == layers["config"]["size"] + sum(
        layer["size"] for layer in layers["layers"]
    )


def test_describe_oci_image(seeded, client):
    pushed = seeded.oci
    details = client.describe("seed/app", "v2-oci")
    assert details.digest == pushed.digest
    assert details.media_type == OCI_MANIFEST
    assert details.size == pushed.size
    assert details.platforms == (Platform("linux", "arm64", "v8"),)
    assert details.labels == {"flavour": "oci"}
    seen = skopeo(seeded.registry, "inspect", "seed/app:v2-oci")
    assert seen["Digest"] == details.digest
    assert seen["Architecture"] == "arm64"
    assert seen["Labels"] == details.labels
    assert same_instant(details.created, seen["Created"])


def test_describe_oci_index_skips_attestations(seeded, client):
    pushed = seeded.oci_index
    details = client.describe("seed/multi", "oci")
    assert details.digest == pushed.digest
    assert details.media_type == OCI_INDEX
    assert details.platforms == (
        Platform("linux", "amd64"),
        Platform("linux", "arm64", "v8"),
        Platform("linux", "arm", "v7"),
    )
    first = pushed.children[0]
    assert details.size == first.size
    assert details.created == first.created
    assert details.labels == {"kind": "index"}

    raw = skopeo(seeded.registry, "inspect", "seed/multi:oci", "--raw")
    platforms = [m["platform"] for m in raw["manifests"]]
    assert {"os": "unknown", "architecture": "unknown"} in platforms
    assert len(details.platforms) == len(platforms) - 3  # three attestations
    amd64 = skopeo(
        seeded.registry,
        "inspect",
        "seed/multi:oci",
        "--override-os=linux",
        "--override-arch=amd64",
    )
    assert amd64["Digest"] == details.digest
    assert amd64["Labels"] == details.labels
    assert same_instant(details.created, amd64["Created"])


def test_describe_docker_manifest_list(seeded, client):
    pushed = seeded.docker_list
    details = client.describe("seed/multi", "docker")
    assert details.digest == pushed.digest
    assert details.media_type == DOCKER_LIST
    assert details.platforms == (Platform("linux", "amd64"), Platform("linux", "s390x"))
    assert details.size == pushed.children[0].size
    assert details.created == pushed.children[0].created
    s390x = skopeo(
        seeded.registry, "inspect", "seed/multi:docker", "--override-arch=s390x"
    )
    assert s390x["Architecture"] == "s390x"
    assert s390x["Digest"] == details.digest


def test_get_manifest_by_digest(seeded, client):
    child = seeded.oci_index.children[1]
    manifest = client.get_manifest("seed/multi", child.digest)
    assert manifest.digest == child.digest
    assert manifest.media_type == OCI_MANIFEST
    assert manifest.data["config"]["digest"] == child.config_digest


# -- one mode is enough -------------------------------------------------------------


def test_the_full_accept_list_keeps_the_pushed_digest(http_registry):
    # Without the schema2 type in Accept, 2.8 would convert to schema 1 and
    # answer a different digest; make sure our HEAD and GET agree with the push.
    image = http_registry.pusher().image("accept/check", "v1")
    with V2Client(http_registry.client_config()) as client:
        assert client.head_digest("accept/check", "v1") == image.digest
        assert client.get_manifest("accept/check", "v1").digest == image.digest
    plain = requests.get(f"{http_registry.url}/v2/accept/check/manifests/v1", timeout=5)
    assert plain.headers["Docker-Content-Digest"] != image.digest


def test_a_config_blob_is_fetched_once_for_every_tag_that_shares_it(http_registry):
    pusher = http_registry.pusher()
    image = pusher.image("cache/app", "v1")
    pusher.tag("cache/app", image.digest, image.media_type, "latest")
    with V2Client(http_registry.client_config()) as client:
        urls = counting(client)
        first = client.describe("cache/app", "v1")
        alias = client.describe("cache/app", "latest")
    blob_gets = [url for url in urls if "/blobs/" in url]
    assert len(blob_gets) == 1
    assert (alias.digest, alias.created, alias.labels, alias.platforms) == (
        first.digest,
        first.created,
        first.labels,
        first.platforms,
    )


def test_a_config_blob_that_fails_its_digest_is_refused_and_never_cached():
    from registries.clients.v2 import _config_cache

    honest = b'{"architecture": "amd64", "os": "linux"}'
    digest = "sha256:" + hashlib.sha256(honest).hexdigest()
    tampered = Reply(200, b'{"architecture": "arm64", "os": "linux"}')
    with StubServer(lambda request: tampered) as server:
        config = ClientConfig(base_url=server.url, allow_plain_http=True)
        with V2Client(config) as client, pytest.raises(errors.ProtocolError):
            client._config_blob("cache/bad", digest)
    assert _config_cache.get(digest) is None
    with StubServer(lambda request: Reply(200, honest)) as server:
        config = ClientConfig(base_url=server.url, allow_plain_http=True)
        with V2Client(config) as client:
            assert client._config_blob("cache/good", digest)["architecture"] == "amd64"
    assert _config_cache.get(digest) == honest


def test_basic_registry_with_wrong_password(basic_registry):
    config = basic_registry.client_config(password="nope")
    with V2Client(config) as client, pytest.raises(errors.AuthFailed):
        client.ping()


def test_token_registry_catalog_scope_denied(token_registry, token_server):
    def no_catalog(account, type_, name, actions):
        return [] if type_ == "registry" else list(actions)

    with token_server.configure(policy=no_catalog):
        with V2Client(token_registry.client_config()) as client:
            with pytest.raises(errors.Forbidden) as caught:
                list(client.list_repositories())
    assert "registry:catalog:*" in caught.value.message


def test_prefix_path_reaches_a_registry_below_a_path(http_registry):
    """Serve the real registry below /artifactory/api/docker/local like Artifactory."""
    http_registry.pusher().image("proxied/app", "v1", labels={"via": "proxy"})
    prefix = "/artifactory/api/docker/local"

    def proxy(request):
        path = request.path.removeprefix(prefix)
        query = "&".join(
            f"{k}={v}" for k, values in request.query.items() for v in values
        )
        upstream = requests.request(
            request.method,
            f"{http_registry.url}{path}" + (f"?{query}" if query else ""),
            headers={"Accept": request.header("Accept") or "*/*"},
            timeout=5,
        )
        headers = {
            k: v
            for k, v in upstream.headers.items()
            if k in ("Content-Type", "Docker-Content-Digest", "Link")
        }
        if "Link" in headers:
            headers["Link"] = headers["Link"].replace("</v2/", f"<{prefix}/v2/")
        return Reply(upstream.status_code, upstream.content, headers)

    with StubServer(proxy) as server:
        config = http_registry.client_config(base_url=server.url)
        with V2Client(config, prefix_path=prefix, page_size=1) as client:
            client.ping()
            assert "proxied/app" in [r.name for r in client.list_repositories()]
            details = client.describe("proxied/app", "v1")
        assert details.labels == {"via": "proxy"}
        assert all(r.path.startswith(prefix + "/v2/") for r in server.received)


def test_describe_follows_a_config_blob_redirect_without_credentials():
    """Blob storage on another host (127.0.0.2) gets no Authorization."""
    config_blob = json.dumps(
        {
            "created": "2023-01-02T03:04:05.678901234Z",
            "os": "linux",
            "architecture": "riscv64",
            "config": {"Labels": {"stored": "elsewhere"}},
        }
    ).encode()
    config_digest = "sha256:" + hashlib.sha256(config_blob).hexdigest()
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": len(config_blob),
            "digest": config_digest,
        },
        "layers": [{"mediaType": "x", "size": 1000, "digest": "sha256:" + "1" * 64}],
    }
    credentials = "Basic " + base64.b64encode(b"alice:pw").decode()
    storage = StubServer(lambda request: Reply(200, config_blob), host="127.0.0.2")

    def registry(request):
        if request.header("Authorization") != credentials:
            return Reply(401, "", {"WWW-Authenticate": 'Basic realm="r"'})
        if "/blobs/" in request.path:
            return Reply(307, "", {"Location": f"{storage.url}/s3/{config_digest}"})
        return Reply(200, manifest, {"Content-Type": DOCKER_MANIFEST})

    with storage, StubServer(registry) as server:
        config = ClientConfig(
            base_url=server.url, username="alice", password="pw", allow_plain_http=True
        )
        with V2Client(config) as client:
            details = client.describe("far/away", "v1")
    assert details.platforms == (Platform("linux", "riscv64"),)
    assert details.labels == {"stored": "elsewhere"}
    assert details.size == 1000 + len(config_blob)
    assert details.created.microsecond == 678901
    assert [r.header("Authorization") for r in storage.received] == [None]


# -- misbehaving servers ------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, "<html><body>Welcome to nginx!</body></html>"),
        Reply(404, "404 page not found"),
        Reply(200, {"status": "ok", "version": 2}),
    ],
    ids=["html", "404", "other-json"],
)
def test_a_web_server_is_not_a_registry(reply):
    with StubServer(lambda request: reply) as server:
        config = http_config(server.url)
        with V2Client(config) as client, pytest.raises(errors.NotARegistry):
            client.ping()


def http_config(url: str) -> ClientConfig:
    return ClientConfig(base_url=url, allow_plain_http=True, read_timeout=5)


def test_garbage_tag_list_is_a_protocol_error():
    reply = Reply(200, b'{"name": "x", "tags": [', {"Content-Type": "application/json"})
    with StubServer(lambda request: reply) as server:
        with V2Client(http_config(server.url)) as client:
            with pytest.raises(errors.ProtocolError):
                client.list_tags("x")


def test_looping_tag_pagination_is_a_protocol_error():
    link = {"Link": '</v2/x/tags/list?n=1&last=a>; rel="next"'}
    with StubServer(lambda request: Reply(200, {"tags": ["a"]}, link)) as server:
        with V2Client(http_config(server.url)) as client:
            with pytest.raises(errors.ProtocolError) as caught:
                client.list_tags("x")
    assert "loops" in caught.value.message


def test_paginated_tags_are_followed():
    def handle(request):
        if request.query.get("last") == ["b"]:
            return Reply(200, {"name": "x", "tags": ["c"]})
        link = '</v2/x/tags/list?n=2&last=b>; rel="next"'
        return Reply(200, {"name": "x", "tags": ["a", "b"]}, {"Link": link})

    with StubServer(handle) as server, V2Client(http_config(server.url)) as client:
        assert client.list_tags("x") == ["a", "b", "c"]


def test_catalog_streams_lazily_and_stops_past_the_prefix():
    """A 100 000-repository catalog: only the pages around the prefix are read."""
    # One "/" at the same place in every name: both sort orders agree.
    names = [f"ns{i // 1000:03d}/repo{i % 1000:03d}" for i in range(100_000)]

    def handle(request):
        n = int(request.query["n"][0])
        last = request.query.get("last", [""])[0]
        start = bisect.bisect_right(names, last) if last else 0
        page = names[start : start + n]
        headers = {}
        if start + n < len(names):
            headers["Link"] = f'</v2/_catalog?last={page[-1]}&n={n}>; rel="next"'
        return Reply(200, {"repositories": page}, headers)

    with StubServer(handle) as server, V2Client(http_config(server.url)) as client:
        stream = client.list_repositories()
        first = [next(stream).name for _ in range(3)]
        assert first == names[:3]
        assert len(server.received) == 1  # a generator: one page so far
        stream.close()

        found = [r.name for r in client.list_repositories("ns042/")]
        assert found == [n for n in names if n.startswith("ns042/")]
        assert len(server.received) - 1 <= 3


def test_bad_digest_from_the_registry_is_a_protocol_error():
    body = (
        b'{"schemaVersion": 2, "mediaType": "%s", "layers": []}' % OCI_MANIFEST.encode()
    )
    reply = Reply(200, body, {"Content-Type": OCI_MANIFEST})
    with StubServer(lambda request: reply) as server:
        with V2Client(http_config(server.url)) as client:
            with pytest.raises(errors.ProtocolError):
                client.get_manifest("x", "sha256:" + "0" * 64)


def test_parse_created():
    assert parse_created("2024-05-17T08:30:15.250000123Z").microsecond == 250000
    assert parse_created("2024-05-17T08:30:15Z").year == 2024
    assert parse_created("2024-05-17T10:30:15.5+02:00").hour == 10
    assert parse_created("yesterday") is None
    assert parse_created(None) is None

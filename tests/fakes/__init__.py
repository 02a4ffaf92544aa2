"""Fake registry servers that tests talk to over real HTTP on 127.0.0.1.

Faithful fakes built from the documented shapes in ``/work/shared/PROTOCOLS.md``
(and the specs it cites); the real services (Docker Hub, Harbor, Artifactory, a V1
index) cannot be reached here. Each fake is a threaded ``http.server`` on a free
port that records every request it receives, so tests can assert on what a client
actually sent (``Authorization`` headers, query strings, encoded paths).

This module holds what the fakes share: the server, request records, replies, and
``ImageStore``, a small V2 manifest/blob store used by the fakes' registry sides.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MT_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

_V2_ROUTE = re.compile(
    r"(?P<name>.+?)/(?:(?P<tags>tags/list)|manifests/(?P<ref>[^/]+)|blobs/(?P<blob>[^/]+))"
)


@dataclass
class Request:
    """One request as the fake received it; ``path`` is still percent-encoded."""

    method: str
    target: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes

    def header(self, name: str, default: str = "") -> str:
        """Return a request header (case-insensitive), or ``default``."""
        return self.headers.get(name, default)

    def param(self, name: str, default: str = "") -> str:
        """Return the first value of a query parameter, or ``default``."""
        values = self.query.get(name)
        return values[0] if values else default

    def basic_credentials(self) -> tuple[str, str] | None:
        """Return the ``(username, password)`` of a Basic header, if any."""
        scheme, _, value = self.header("Authorization").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except ValueError:
            return None
        username, sep, password = decoded.partition(":")
        return (username, password) if sep else None

    def bearer_token(self) -> str | None:
        """Return the token of a Bearer header, if any."""
        scheme, _, value = self.header("Authorization").partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value else None


@dataclass
class Reply:
    """What the fake sends back."""

    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_reply(data, status: int = 200, headers: Iterable = ()) -> Reply:
    """Return ``data`` as a JSON reply."""
    return Reply(
        status,
        json.dumps(data).encode(),
        [("Content-Type", "application/json"), *headers],
    )


def text_reply(text: str, status: int = 200, headers: Iterable = ()) -> Reply:
    """Return a plain-text reply."""
    return Reply(
        status, text.encode(), [("Content-Type", "text/plain; charset=utf-8"), *headers]
    )


def v2_error(status: int, code: str, message: str, headers: Iterable = ()) -> Reply:
    """Return an error in the distribution spec's ``{"errors": [...]}`` shape."""
    body = {"errors": [{"code": code, "message": message, "detail": None}]}
    return json_reply(body, status, headers)


def bearer_challenge(realm: str, service: str, scope: str = "", error: str = "") -> str:
    """Return a ``Bearer`` challenge value as registries send it."""
    value = f'Bearer realm="{realm}",service="{service}"'
    if scope:
        value += f',scope="{scope}"'
    if error:
        value += f',error="{error}"'
    return value


def sha256_digest(data: bytes) -> str:
    """Return the ``sha256:<hex>`` content digest of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Idle keep-alive connections must not pin a thread after the test is done.
    timeout = 5
    # Headers and body go out in separate writes; with Nagle's algorithm and the
    # client's delayed ACK each keep-alive request would stall for ~40 ms.
    disable_nagle_algorithm = True

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            target=self.path,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
        )
        fake: FakeServer = self.server.fake
        fake._record(request)
        try:
            reply = fake.handle(request)
        except Exception:  # surface fake bugs in the test output, not as hangs
            reply = text_reply(traceback.format_exc(), 500)
        self.send_response(reply.status)
        names = {name.lower() for name, _ in reply.headers}
        for name, value in [*fake.extra_headers(), *reply.headers]:
            self.send_header(name, value)
        if "content-length" not in names:
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): nothing to tell it

    def version_string(self) -> str:
        return self.server.fake.server_header or super().version_string()

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch

    def log_message(self, format, *args):  # noqa: A002 - keep test output quiet
        pass


class FakeServer:
    """Serve ``handle`` on 127.0.0.1 in a background thread and record requests."""

    #: The ``Server`` header; ``None`` keeps http.server's own.
    server_header: str | None = None

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def handle(self, request: Request) -> Reply:
        """Answer one request; subclasses implement the protocol."""
        raise NotImplementedError

    def extra_headers(self) -> list[tuple[str, str]]:
        """Return headers sent on every reply (e.g. a product's markers)."""
        return []

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    @property
    def url(self) -> str:
        """Return the base URL, ``http://127.0.0.1:<port>``."""
        assert self._httpd is not None, "fake server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def host(self) -> str:
        """Return ``127.0.0.1:<port>``, as a registry host name."""
        return self.url.removeprefix("http://")

    def requests_to(self, path_prefix: str) -> list[Request]:
        """Return the recorded requests whose raw path starts with ``path_prefix``."""
        with self._lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    def start(self) -> FakeServer:
        """Bind a free port and start serving."""
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        httpd.daemon_threads = True
        # Don't join handler threads on close: a client may keep a connection open.
        httpd.block_on_close = False
        httpd.fake = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass
class _Manifest:
    media_type: str
    data: bytes


class ImageStore:
    """Repositories, tags, manifests and blobs, served like a V2 registry.

    Images are real JSON documents with real digests, so a client that computes or
    compares digests sees consistent answers. Layer blobs are not stored: the
    clients only read their sizes from manifests.
    """

    def __init__(self) -> None:
        self.tags: dict[str, dict[str, str]] = {}
        self.manifests: dict[str, _Manifest] = {}
        self.blobs: dict[str, bytes] = {}

    def add_repository(self, name: str) -> None:
        """Create an empty repository (it still appears in the catalog)."""
        self.tags.setdefault(name, {})

    def add_image(
        self,
        repository: str,
        tag: str | None,
        *,
        architecture: str = "amd64",
        os: str = "linux",
        variant: str = "",
        created: str = "2024-05-06T07:08:09Z",
        labels: dict[str, str] | None = None,
        layer_sizes: Iterable[int] = (1000, 2000),
    ) -> str:
        """Store a single-platform Docker schema2 image and return its digest."""
        config = {
            "architecture": architecture,
            "os": os,
            "created": created,
            "config": {"Labels": labels or {}},
            "rootfs": {"type": "layers", "diff_ids": []},
            "history": [],
        }
        if variant:
            config["variant"] = variant
        config_data = json.dumps(config).encode()
        config_digest = sha256_digest(config_data)
        self.blobs[config_digest] = config_data
        layers = [
            {
                "mediaType": MT_DOCKER_LAYER,
                "size": size,
                "digest": sha256_digest(f"{repository}:{tag}:{i}:{size}".encode()),
            }
            for i, size in enumerate(layer_sizes)
        ]
        manifest = {
            "schemaVersion": 2,
            "mediaType": MT_DOCKER_V2,
            "config": {
                "mediaType": MT_DOCKER_CONFIG,
                "size": len(config_data),
                "digest": config_digest,
            },
            "layers": layers,
        }
        return self._put_manifest(repository, tag, MT_DOCKER_V2, manifest)

    def add_index(
        self, repository: str, tag: str, children: Iterable[tuple[str, str, str]]
    ) -> str:
        """Store an OCI index over images for ``(os, architecture, variant)``."""
        entries = []
        for os, architecture, variant in children:
            digest = self.add_image(
                repository, None, os=os, architecture=architecture, variant=variant
            )
            platform = {"os": os, "architecture": architecture}
            if variant:
                platform["variant"] = variant
            entries.append(
                {
                    "mediaType": MT_DOCKER_V2,
                    "digest": digest,
                    "size": len(self.manifests[digest].data),
                    "platform": platform,
                }
            )
        index = {"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": entries}
        return self._put_manifest(repository, tag, MT_OCI_INDEX, index)

    def _put_manifest(self, repository, tag, media_type, document) -> str:
        data = json.dumps(document, indent=3).encode()
        digest = sha256_digest(data)
        self.manifests[digest] = _Manifest(media_type, data)
        repo_tags = self.tags.setdefault(repository, {})
        if tag is not None:
            repo_tags[tag] = digest
        return digest

    def manifest_size(self, digest: str) -> int:
        """Return the compressed size of an image: its layers plus its config."""
        document = json.loads(self.manifests[digest].data)
        sizes = [layer["size"] for layer in document.get("layers", [])]
        return sum(sizes) + document.get("config", {}).get("size", 0)

    def serve(self, request: Request, rest: str, link_base: str) -> Reply:
        """Answer ``/v2/<rest>`` (``rest`` still percent-encoded).

        ``link_base`` is the path of this registry's ``/v2/`` root, used to build
        the relative ``Link`` headers the spec describes.
        """
        if rest == "":
            return json_reply({})
        if rest == "_catalog":
            return self._catalog(request, link_base)
        match = _V2_ROUTE.fullmatch(rest)
        if match is None:
            return v2_error(404, "NOT_FOUND", "no such route")
        name = unquote(match["name"])
        if name not in self.tags:
            return v2_error(
                404, "NAME_UNKNOWN", "repository name not known to registry"
            )
        if match["tags"]:
            tags = list(self.tags[name]) or None
            return json_reply({"name": name, "tags": tags})
        if match["blob"]:
            blob = self.blobs.get(match["blob"])
            if blob is None:
                return v2_error(404, "BLOB_UNKNOWN", "blob unknown to registry")
            return Reply(200, blob, [("Docker-Content-Digest", match["blob"])])
        return self._manifest(request, name, match["ref"])

    def _catalog(self, request: Request, link_base: str) -> Reply:
        n = int(request.param("n") or 100)
        if n > 1000:
            return v2_error(
                400, "PAGINATION_NUMBER_INVALID", "invalid number of results requested"
            )
        last = request.param("last")
        names = sorted(name for name in self.tags if name > last)
        page, more = names[:n], len(names) > n
        headers = []
        if more and page:
            link = f"{link_base}_catalog?last={quote(page[-1], safe='')}&n={n}"
            headers.append(("Link", f'<{link}>; rel="next"'))
        return json_reply({"repositories": page}, headers=headers)

    def _manifest(self, request: Request, name: str, ref: str) -> Reply:
        digest = ref if ref.startswith("sha256:") else self.tags[name].get(ref)
        if digest is None or digest not in self.manifests:
            return v2_error(404, "MANIFEST_UNKNOWN", "manifest unknown")
        manifest = self.manifests[digest]
        accepted = {
            part.split(";")[0].strip()
            for value in request.headers.get_all("Accept") or []
            for part in value.split(",")
        }
        # The real registry would convert or hide a type the client did not ask
        # for; this fake only insists that clients send the full Accept list.
        if manifest.media_type not in accepted:
            return v2_error(404, "MANIFEST_UNKNOWN", "manifest type not accepted")
        return Reply(
            200,
            manifest.data,
            [
                ("Content-Type", manifest.media_type),
                ("Docker-Content-Digest", digest),
            ],
        )

"""Client for the V2 / OCI distribution API (distribution, Harbor, Artifactory, ...).

Public API::

    client = V2Client(config, *, prefix_path="", transport=None, page_size=1000)
    client.ping() -> None                       # NotARegistry if /v2/ is not V2
    client.list_repositories(prefix="") -> Iterator[RepositoryInfo]
    client.list_tags(repository) -> list[str]
    client.head_digest(repository, reference) -> str
    client.get_manifest(repository, reference) -> Manifest
    client.describe(repository, tag) -> TagDetails
    client.search(query, limit=25)              # raises NotSupported
    client.close()

``prefix_path`` is inserted between ``base_url`` and ``/v2`` for registries
served below a path, like ``/artifactory/api/docker/<repoKey>``.

Every manifest HEAD or GET counts as a pull on the registry side (notifications,
Docker Hub's rate limit), so ``describe`` fetches only what it needs.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from . import errors
from .transport import Transport, next_link
from .types import ClientConfig, Manifest, Platform, RepositoryInfo, TagDetails

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"

# Without the schema2 type distribution 2.8 converts to schema1 (another
# digest); without the OCI types OCI manifests are 404. Always send them all.
MANIFEST_ACCEPT = ", ".join(
    [
        OCI_INDEX,
        OCI_MANIFEST,
        DOCKER_LIST,
        DOCKER_MANIFEST,
        DOCKER_SCHEMA1_SIGNED,
        DOCKER_SCHEMA1,
    ]
)
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
IMAGE_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
SCHEMA1_TYPES = frozenset({DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED})
CATALOG_SCOPE = "registry:catalog:*"
MAX_CATALOG_PAGE = 1000  # distribution's default catalog.maxentries


def pull_scope(repository: str) -> str:
    return f"repository:{repository}:pull"


def parse_created(value: Any) -> datetime | None:
    """Parse an RFC 3339 time as image configs carry it (maybe nanoseconds)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Go writes up to nine fractional digits; datetime takes at most six.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _slash_first(name: str) -> str:
    # distribution 2.8 walks its storage tree, so "/" sorts before every other
    # character ("a", "a/b", "a-b"); pure byte order would put "a-b" first.
    return name.replace("/", "\x00")


def _sorts_after_prefix(name: str, prefix: str) -> bool:
    """Tell whether ``name`` is past every name starting with ``prefix``.

    Only true if it is past in both orders a registry may use, so that we never
    stop early; a registry with either order then lists nothing more for us.
    """
    if name.startswith(prefix):
        return False
    return name > prefix and _slash_first(name) > _slash_first(prefix)


def _platform(data: Any) -> Platform | None:
    if not isinstance(data, dict):
        return None
    os_name = str(data.get("os") or "")
    architecture = str(data.get("architecture") or "")
    if not os_name and not architecture:
        return None
    return Platform(os_name, architecture, str(data.get("variant") or ""))


def _is_attestation(descriptor: dict) -> bool:
    annotations = descriptor.get("annotations") or {}
    if annotations.get("vnd.docker.reference.type") == "attestation-manifest":
        return True
    platform = descriptor.get("platform") or {}
    return platform.get("os") == "unknown" and platform.get("architecture") == "unknown"


def _labels(config: Any) -> dict[str, str]:
    labels = (
        (config.get("config") or {}).get("Labels") if isinstance(config, dict) else None
    )
    if not isinstance(labels, dict):
        return {}
    return {str(key): str(value) for key, value in labels.items()}


class _BlobCache:
    """A small, thread-safe LRU of verified config blobs, keyed by digest.

    Blobs are content-addressed: once a body has matched its sha256 digest it is
    the same for every registry and repository, so a crawl's ``latest`` aliases
    and images sharing a config need not fetch it again.
    """

    def __init__(self, max_entries: int = 4096, max_bytes: int = 256 * 1024) -> None:
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries
        self.max_bytes = max_bytes

    def get(self, digest: str) -> bytes | None:
        with self._lock:
            body = self._entries.get(digest)
            if body is not None:
                self._entries.move_to_end(digest)
            return body

    def put(self, digest: str, body: bytes) -> None:
        if len(body) > self.max_bytes:
            return
        with self._lock:
            self._entries[digest] = body
            self._entries.move_to_end(digest)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_config_cache = _BlobCache()


@dataclass(frozen=True)
class _ImageFacts:
    size: int | None = None
    created: datetime | None = None
    platform: Platform | None = None
    labels: dict[str, str] = field(default_factory=dict)


class V2Client:
    """Read a V2 / OCI registry; implements ``RegistryAdapter``."""

    can_list = True
    can_search = False

    def __init__(
        self,
        config: ClientConfig,
        *,
        prefix_path: str = "",
        transport: Transport | None = None,
        page_size: int = MAX_CATALOG_PAGE,
    ) -> None:
        self.config = config
        self.transport = transport or Transport(config)
        self.prefix_path = (
            "/" + prefix_path.strip("/") if prefix_path.strip("/") else ""
        )
        self.page_size = max(1, min(page_size, MAX_CATALOG_PAGE))

    def __enter__(self) -> V2Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.transport.close()

    def _url(self, path: str) -> str:
        return self.transport.url(f"{self.prefix_path}/v2/{path}")

    @staticmethod
    def _name(repository: str) -> str:
        return quote(repository.strip("/"), safe="/")

    def _manifest_url(self, repository: str, reference: str) -> str:
        return self._url(
            f"{self._name(repository)}/manifests/{quote(reference, safe=':')}"
        )

    # -- RegistryAdapter ------------------------------------------------------------

    def ping(self) -> None:
        """Check that ``/v2/`` answers like a V2 registry (with our credentials)."""
        url = self._url("")
        try:
            response = self.transport.request("GET", url)
        except (errors.NotFound, errors.NotSupported, errors.RequestRejected) as exc:
            raise errors.NotARegistry(
                f"{url} answered HTTP {exc.status}: no V2 registry API there.",
                status=exc.status,
                url=url,
            ) from exc
        version = response.headers.get("Docker-Distribution-Api-Version", "")
        if version.lower().startswith("registry/2"):
            return
        try:
            body = response.json()
        except ValueError:
            body = None
        if body == {} or body is True:
            return
        raise errors.NotARegistry(
            f"{url} answered, but not like a V2 registry.",
            status=response.status_code,
            url=url,
        )

    def list_repositories(self, prefix: str = "") -> Iterator[RepositoryInfo]:
        """Stream the catalog page by page, only the names under ``prefix``."""
        params: dict[str, Any] = {"n": self.page_size}
        if prefix:
            # Dropping the last character gives a bound below every name with
            # the prefix in both orders registries use.
            params["last"] = prefix[:-1]
        target = f"{self._url('_catalog')}?{urlencode(params)}"
        seen: set[str] = set()
        first_page = True
        previous_last = None
        while True:
            if target in seen:
                raise errors.ProtocolError(
                    f"The catalog's pagination loops back to {target}.", url=target
                )
            seen.add(target)
            try:
                data, response = self.transport.get_json(target, scope=(CATALOG_SCOPE,))
            except errors.RequestRejected as exc:
                # A registry whose catalog.maxentries is below our page size
                # refuses ``n`` on the first page: ask again with half, down
                # to one name a page, and keep the size that worked.
                if (
                    "PAGINATION_NUMBER_INVALID" not in exc.message
                    or not first_page
                    or params["n"] <= 1
                ):
                    raise
                params["n"] = params["n"] // 2
                self.page_size = params["n"]
                target = f"{self._url('_catalog')}?{urlencode(params)}"
                continue
            first_page = False
            names = data.get("repositories") if isinstance(data, dict) else None
            if names is None and isinstance(data, dict) and "repositories" in data:
                names = []
            if not isinstance(names, list) or not all(
                isinstance(n, str) for n in names
            ):
                raise errors.ProtocolError(
                    f"{response.url} did not answer a catalog.", url=response.url
                )
            for name in names:
                if name.startswith(prefix):
                    yield RepositoryInfo(name=name)
                elif prefix and _sorts_after_prefix(name, prefix):
                    return
            target = next_link(response)
            if target is None:
                # Some registries page by n/last without sending Link.
                if len(names) < params["n"] or not names or names[-1] == previous_last:
                    return
                params["last"] = names[-1]
                target = f"{self._url('_catalog')}?{urlencode(params)}"
            previous_last = names[-1] if names else previous_last

    def list_tags(self, repository: str) -> list[str]:
        """Return every tag, following Link pagination where the registry pages."""
        tags: dict[str, None] = {}
        url = self._url(f"{self._name(repository)}/tags/list")
        for data, response in self.transport.iter_link_pages(
            url, scope=(pull_scope(repository),)
        ):
            page = data.get("tags") if isinstance(data, dict) else None
            if page is None and isinstance(data, dict) and "tags" in data:
                page = []  # 2.8 says null once every manifest is deleted
            if not isinstance(page, list):
                raise errors.ProtocolError(
                    f"{response.url} did not answer a tag list.", url=response.url
                )
            tags.update((str(tag), None) for tag in page)
        return list(tags)

    def head_digest(self, repository: str, reference: str) -> str:
        """Return the digest of ``reference`` from a HEAD, else from a GET."""
        response = self.transport.request(
            "HEAD",
            self._manifest_url(repository, reference),
            headers={"Accept": MANIFEST_ACCEPT},
            scope=(pull_scope(repository),),
        )
        digest = response.headers.get("Docker-Content-Digest", "").strip()
        if digest:
            return digest
        return self.get_manifest(repository, reference).digest

    def get_manifest(self, repository: str, reference: str) -> Manifest:
        """Fetch a manifest with the full Accept list."""
        data, response = self.transport.get_json(
            self._manifest_url(repository, reference),
            headers={"Accept": MANIFEST_ACCEPT},
            scope=(pull_scope(repository),),
        )
        if not isinstance(data, dict):
            raise errors.ProtocolError(
                f"{response.url} did not answer a manifest.", url=response.url
            )
        body = response.content
        media_type = self._media_type(response.headers.get("Content-Type", ""), data)
        computed = "sha256:" + hashlib.sha256(body).hexdigest()
        if (
            reference.startswith("sha256:")
            and media_type not in SCHEMA1_TYPES
            and computed != reference
        ):
            raise errors.ProtocolError(
                f"The manifest served for {reference} has digest {computed}.",
                url=response.url,
            )
        digest = response.headers.get("Docker-Content-Digest", "").strip() or computed
        return Manifest(media_type=media_type, digest=digest, data=data, size=len(body))

    @staticmethod
    def _media_type(content_type: str, data: dict) -> str:
        declared = content_type.split(";")[0].strip().lower()
        if declared in INDEX_TYPES | IMAGE_TYPES | SCHEMA1_TYPES:
            return declared
        if isinstance(data.get("mediaType"), str) and data["mediaType"]:
            return data["mediaType"]
        # OCI allows omitting mediaType; tell the shapes apart.
        if data.get("schemaVersion") == 1:
            return DOCKER_SCHEMA1_SIGNED
        if "manifests" in data:
            return OCI_INDEX
        if "layers" in data:
            return OCI_MANIFEST
        return declared

    def describe(self, repository: str, tag: str) -> TagDetails:
        """Resolve a tag to digest, size, platforms, creation time and labels."""
        manifest = self.get_manifest(repository, tag)
        platforms: tuple[Platform, ...] = ()
        if manifest.media_type in INDEX_TYPES or "manifests" in manifest.data:
            children = manifest.data.get("manifests") or []
            if not isinstance(children, list):
                raise errors.ProtocolError(f"{repository}:{tag} has a bad index.")
            real = [
                child
                for child in children
                if isinstance(child, dict)
                and isinstance(child.get("digest"), str)
                and not _is_attestation(child)
            ]
            platforms = tuple(
                p for p in (_platform(child.get("platform")) for child in real) if p
            )
            facts = _ImageFacts()
            if real:
                child = self.get_manifest(repository, real[0]["digest"])
                if child.media_type not in INDEX_TYPES:
                    facts = self._image_facts(repository, child)
        else:
            facts = self._image_facts(repository, manifest)
            if facts.platform is not None:
                platforms = (facts.platform,)
        return TagDetails(
            repository=repository,
            tag=tag,
            digest=manifest.digest,
            media_type=manifest.media_type,
            size=facts.size,
            created=facts.created,
            platforms=platforms,
            labels=facts.labels,
        )

    def search(self, query: str, *, limit: int = 25) -> list:
        """Raise ``NotSupported``: the V2 API has no search."""
        raise errors.NotSupported("The V2 registry API offers no search.")

    # -- image details ----------------------------------------------------------------

    def _image_facts(self, repository: str, manifest: Manifest) -> _ImageFacts:
        data = manifest.data
        if manifest.media_type in SCHEMA1_TYPES or data.get("schemaVersion") == 1:
            return self._schema1_facts(data)
        config = data.get("config")
        layers = data.get("layers")
        if not isinstance(config, dict) or not isinstance(layers, list):
            raise errors.ProtocolError(
                f"The manifest {manifest.digest} of {repository} has no config "
                "or layers."
            )
        sizes = [config.get("size")] + [
            layer.get("size") for layer in layers if isinstance(layer, dict)
        ]
        size = (
            sum(sizes)
            if all(isinstance(s, int) and not isinstance(s, bool) for s in sizes)
            else None
        )
        config_type = config.get("mediaType") or DOCKER_CONFIG
        if config_type not in (DOCKER_CONFIG, OCI_CONFIG):
            # An OCI artifact (Helm chart, signature, ...): no image config.
            return _ImageFacts(size=size)
        blob = self._config_blob(repository, str(config.get("digest") or ""))
        return _ImageFacts(
            size=size,
            created=parse_created(blob.get("created")),
            platform=_platform(blob),
            labels=_labels(blob),
        )

    def _config_blob(self, repository: str, digest: str) -> dict:
        if not digest:
            raise errors.ProtocolError(f"A manifest of {repository} has no config.")
        cached = _config_cache.get(digest)
        if cached is not None:
            return json.loads(cached)
        data, response = self.transport.get_json(
            self._url(f"{self._name(repository)}/blobs/{quote(digest, safe=':')}"),
            scope=(pull_scope(repository),),
        )
        algorithm, _, expected = digest.partition(":")
        if (
            algorithm == "sha256"
            and hashlib.sha256(response.content).hexdigest() != expected
        ):
            raise errors.ProtocolError(
                f"The config blob of {repository} does not match {digest}.",
                url=response.url,
            )
        if not isinstance(data, dict):
            raise errors.ProtocolError(f"The config blob {digest} is not an object.")
        if algorithm == "sha256":  # verified above, so safe to share by digest
            _config_cache.put(digest, response.content)
        return data

    @staticmethod
    def _schema1_facts(data: dict) -> _ImageFacts:
        history = data.get("history") or []
        newest: dict = {}
        if history and isinstance(history[0], dict):
            try:
                newest = json.loads(history[0].get("v1Compatibility") or "{}")
            except ValueError:
                newest = {}
        if not isinstance(newest, dict):
            newest = {}
        platform = _platform(
            {"os": newest.get("os"), "architecture": data.get("architecture")}
        )
        # Schema 1 manifests carry no layer sizes.
        return _ImageFacts(
            created=parse_created(newest.get("created")),
            platform=platform,
            labels=_labels(newest),
        )

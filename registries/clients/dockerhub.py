"""Read Docker Hub: search and tags through the hub API, images through the registry.

Docker Hub has no catalog (``can_list`` is false): the portal searches it live.
Official images live under ``library/`` in the registry but carry no namespace
in the hub API; names are normalised to ``library/<name>`` here. The hub API and
the index are read anonymously; credentials only ever go to the token service.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import islice
from typing import Any
from urllib.parse import quote

import requests

from . import errors
from .harbor import UpfrontAuthTransport, basic_authorization, int_or_none
from .transport import Transport, origin_of, retry_after_seconds
from .types import ClientConfig, Platform, RepositoryInfo, TagDetails
from .v1 import V1Client, full_name
from .v2 import V2Client

HUB_URL = "https://hub.docker.com"
REGISTRY_URL = "https://registry-1.docker.io"
AUTH_URL = "https://auth.docker.io"
INDEX_URL = "https://index.docker.io"
SERVICE = "registry.docker.io"
DOCKER_HUB_HOSTS = frozenset(
    {
        "docker.io",
        "hub.docker.com",
        "index.docker.io",
        "registry-1.docker.io",
        "registry.hub.docker.com",
    }
)
# The hub API caps page_size at 100.
MAX_PAGE_SIZE = 100
MAX_PAGES = 1000
# Errors after which the index's V1 search may still answer.
_SEARCH_FALLBACK_ERRORS = (
    errors.NotFound,
    errors.NotSupported,
    errors.ProtocolError,
    errors.RequestRejected,
    errors.ServerError,
)


@dataclass(frozen=True)
class RateLimit:
    """Docker Hub's pull allowance as its last answer reported it."""

    limit: int | None
    remaining: int | None
    window_seconds: int | None = None


@dataclass(frozen=True)
class HubTag:
    """One tag as the hub API lists it: no manifest is read (no pull counted).

    ``size`` is the hub's ``full_size`` (compressed); ``digest`` is the tag's
    manifest digest when the hub gives one (or the digest of its only image).
    """

    name: str
    digest: str = ""
    size: int | None = None
    last_updated: datetime | None = None
    platforms: tuple[Platform, ...] = ()


@dataclass(frozen=True)
class HubTagPage:
    """One page of a repository's tags, in the order the hub API gives them."""

    tags: tuple[HubTag, ...]
    page: int
    page_size: int
    count: int | None
    has_next: bool


def _parse_time(value: Any) -> datetime | None:
    """Read the hub's ``2021-01-05T21:06:53.506400Z``; None when absent or bad."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def hub_tag(item: dict) -> HubTag | None:
    """Return a ``HubTag`` from one ``results`` item (or a single-tag answer)."""
    name = item.get("name")
    if not isinstance(name, str) or not name:
        return None
    images = [i for i in item.get("images") or () if isinstance(i, dict)]
    platforms: list[Platform] = []
    for image in images:
        os, arch = _text(image.get("os")), _text(image.get("architecture"))
        # Attestation manifests are listed as unknown/unknown: not a platform.
        if not os or not arch or "unknown" in (os, arch):
            continue
        platform = Platform(os, arch, _text(image.get("variant")))
        if platform not in platforms:
            platforms.append(platform)
    digest = _text(item.get("digest"))
    if not digest and len(images) == 1:
        digest = _text(images[0].get("digest"))
    return HubTag(
        name=name,
        digest=digest,
        size=int_or_none(item.get("full_size")),
        last_updated=_parse_time(item.get("last_updated")),
        platforms=tuple(platforms),
    )


def _hub_retry_after(response: requests.Response) -> float | None:
    """Return the wait a hub API 429 asks for, in seconds.

    The registry sends ``Retry-After``; the hub API documents ``X-Retry-After``
    as the Unix time at which calls are allowed again.
    """
    seconds = retry_after_seconds(response.headers.get("Retry-After"))
    if seconds is not None:
        return seconds
    value = response.headers.get("X-Retry-After", "").strip()
    try:
        return max(0.0, float(value) - time.time()) if value else None
    except ValueError:
        return None


def _rate_value(header: str | None) -> tuple[int | None, int | None]:
    """Read ``"100;w=21600"`` into ``(100, 21600)``."""
    if not header:
        return None, None
    count, *params = header.split(";")
    window = None
    for param in params:
        name, _, value = param.strip().partition("=")
        if name == "w" and value.isdigit():
            window = int(value)
    count = count.strip()
    return (int(count) if count.isdigit() else None), window


def parse_rate_limit(headers) -> RateLimit | None:
    """Return the ``ratelimit-*`` headers as a ``RateLimit``, if present."""
    limit, window = _rate_value(headers.get("ratelimit-limit"))
    remaining, _ = _rate_value(headers.get("ratelimit-remaining"))
    if limit is None and remaining is None:
        return None
    return RateLimit(limit, remaining, window)


def is_docker_hub(host: str) -> bool:
    """Tell whether ``host`` (no port) is one of Docker Hub's names."""
    return host.lower().rstrip(".") in DOCKER_HUB_HOSTS


class DockerHubClient:
    """Adapter for Docker Hub; ``rate_limit`` holds the last reported allowance."""

    can_list = False
    can_search = True

    def __init__(
        self,
        config: ClientConfig,
        *,
        hub_url: str = HUB_URL,
        registry_url: str = REGISTRY_URL,
        auth_url: str = AUTH_URL,
        index_url: str = INDEX_URL,
    ) -> None:
        self.config = config
        anonymous = replace(config, username="", password="")
        self.hub = Transport(replace(anonymous, base_url=hub_url.rstrip("/")))
        self._index_config = replace(anonymous, base_url=index_url.rstrip("/"))
        self._index: V1Client | None = None
        self.auth_url = auth_url.rstrip("/")
        registry_config = replace(config, base_url=registry_url.rstrip("/"))
        transport = Transport(registry_config)
        # A session hook sees every answer, 429s included, before errors are raised.
        transport.session.hooks["response"].append(self._note_rate_limit)
        self.registry = V2Client(registry_config, transport=transport)
        self.rate_limit: RateLimit | None = None

    def _note_rate_limit(self, response: requests.Response, *args, **kwargs) -> None:
        found = parse_rate_limit(response.headers)
        if found is not None:
            self.rate_limit = found

    def close(self) -> None:
        """Close pooled connections to the hub API and the registry."""
        self.hub.close()
        self.registry.close()

    # -- credentials ------------------------------------------------------------

    def check_credentials(self) -> bool | None:
        """Ask the token service to authenticate the credentials.

        Return ``None`` without credentials, ``True`` when they are accepted and
        ``False`` when the token service refuses them (HTTP 401).
        """
        if not (self.config.username or self.config.password):
            return None
        auth_config = replace(self.config, base_url=self.auth_url)
        with UpfrontAuthTransport(auth_config, basic_authorization(self.config)) as t:
            response = t.request(
                "GET",
                "/token",
                params={"service": SERVICE},
                auth=False,
                allow_status=(401,),
            )
        return response.status_code != 401

    # -- hub API ----------------------------------------------------------------

    def _hub_get(
        self, url: str, params: dict[str, Any] | None = None
    ) -> tuple[Any, requests.Response]:
        """GET a hub API URL; a 429 says how long to wait however the hub put it."""
        response = self.hub.request(
            "GET", url, params=params, auth=False, allow_status=(429,)
        )
        if response.status_code == 429:
            raise errors.RateLimited(
                f"HTTP 429 from {response.url}: the hub API asks to slow down.",
                retry_after=_hub_retry_after(response),
                status=429,
                url=response.url,
            )
        try:
            return response.json(), response
        except ValueError as exc:
            raise errors.ProtocolError(
                f"{response.url} answered with something that is not JSON.",
                url=response.url,
                status=response.status_code,
            ) from exc

    @staticmethod
    def _results(data: Any, response: requests.Response) -> list[dict]:
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list):
            raise errors.ProtocolError(
                f"{response.url} did not answer a result list.", url=response.url
            )
        return [item for item in results if isinstance(item, dict)]

    def _follow_next(self, path: str, params: dict[str, Any]) -> Iterator[dict]:
        """Yield ``results`` items of a hub API list, following absolute ``next``."""
        url: str | None = self.hub.url(path)
        query: dict[str, Any] | None = params
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            data, response = self._hub_get(url, query)
            yield from self._results(data, response)
            seen.add(response.url)
            url, query = data.get("next"), None
            if not url:
                return
            if not isinstance(url, str) or origin_of(url) != self.hub.origin:
                raise errors.ProtocolError(
                    f"{response.url} points its next page elsewhere: {url!r}.",
                    url=response.url,
                )
            if url in seen:
                raise errors.ProtocolError(
                    f"The hub API's pagination loops back to {url}.", url=url
                )
        raise errors.ProtocolError(f"Gave up after {MAX_PAGES} pages of {path}.")

    def _hub_search(self, query: str, limit: int) -> list[RepositoryInfo]:
        params = {
            "query": query,
            "page": 1,
            "page_size": min(max(limit, 1), MAX_PAGE_SIZE),
        }
        found = (
            RepositoryInfo(
                name=full_name(item["repo_name"]),
                description=item.get("short_description") or "",
                star_count=int_or_none(item.get("star_count")),
                pull_count=int_or_none(item.get("pull_count")),
                is_official=item.get("is_official") is True,
            )
            for item in self._follow_next("/v2/search/repositories/", params)
            if isinstance(item.get("repo_name"), str)
        )
        return list(islice(found, limit))

    def search(self, query: str, *, limit: int = 25) -> list[RepositoryInfo]:
        """Search the hub API; fall back to the index's V1 search if it fails."""
        try:
            return self._hub_search(query, limit)
        except _SEARCH_FALLBACK_ERRORS:
            if self._index is None:
                self._index = V1Client(self._index_config)
            return self._index.search(query, limit=limit)

    def list_repositories(self, prefix: str = "") -> Iterator[RepositoryInfo]:
        """Raise ``NotSupported``: Docker Hub has no catalog; use ``search``."""
        raise errors.NotSupported("Docker Hub has no catalog; search it instead.")

    def list_tags(self, repository: str) -> list[str]:
        """Return every tag from the hub API (official images under ``library/``)."""
        namespace, name = full_name(repository).split("/", 1)
        path = (
            f"/v2/repositories/{quote(namespace, safe='')}/{quote(name, safe='')}/tags/"
        )
        params = {"page": 1, "page_size": MAX_PAGE_SIZE}
        tags = (item.get("name") for item in self._follow_next(path, params))
        return list(dict.fromkeys(tag for tag in tags if isinstance(tag, str)))

    @staticmethod
    def _namespaced(repository: str) -> str:
        """Return the documented ``/v2/namespaces/<ns>/repositories/<r>`` path."""
        namespace, name = full_name(repository).split("/", 1)
        return (
            f"/v2/namespaces/{quote(namespace, safe='')}"
            f"/repositories/{quote(name, safe='')}"
        )

    def tags_page(
        self, repository: str, *, page: int = 1, page_size: int = MAX_PAGE_SIZE
    ) -> HubTagPage:
        """Return one page of tags with their details: one hub API call.

        The hub numbers pages from 1 and answers 404 (``NotFound``) for a
        repository it does not know or a page past the last.
        """
        size = min(max(page_size, 1), MAX_PAGE_SIZE)
        data, response = self._hub_get(
            f"{self._namespaced(repository)}/tags",
            {"page": max(page, 1), "page_size": size},
        )
        tags = [hub_tag(item) for item in self._results(data, response)]
        return HubTagPage(
            tags=tuple(tag for tag in tags if tag is not None),
            page=max(page, 1),
            page_size=size,
            count=int_or_none(data.get("count")),
            has_next=bool(data.get("next")),
        )

    def tag(self, repository: str, tag: str) -> HubTag:
        """Return one tag's details from the hub API; ``NotFound`` when absent."""
        data, response = self._hub_get(
            f"{self._namespaced(repository)}/tags/{quote(tag, safe='')}"
        )
        found = hub_tag(data) if isinstance(data, dict) else None
        if found is None:
            raise errors.ProtocolError(
                f"{response.url} did not answer a tag.", url=response.url
            )
        return found

    # -- registry ---------------------------------------------------------------

    def head_digest(self, repository: str, reference: str) -> str:
        """Return the digest from a manifest HEAD (Docker Hub does not count HEADs)."""
        return self.registry.head_digest(full_name(repository), reference)

    def describe(self, repository: str, tag: str) -> TagDetails:
        """Resolve ``tag`` through the registry; each manifest GET counts as a pull."""
        return self.registry.describe(full_name(repository), tag)

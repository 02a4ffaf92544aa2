"""Read a Harbor 2.x registry through its ``/api/v2.0`` REST API.

Harbor only gives ``_catalog`` to system administrators, so listing goes through
projects and their repositories instead; tags and image details come from
artifacts, which Harbor has already read (no manifest GET, so no counted pull).

Harbor's API never challenges: a request without credentials, or with credentials
that do not authenticate, simply runs as anonymous. Credentials therefore go up
front on every API request, and a wrong password shows up as missing projects,
not as an error (the probe checks credentials on the registry side instead).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from itertools import islice
from typing import Any
from urllib.parse import quote

from requests.adapters import BaseAdapter

from . import errors
from .transport import Transport, origin_of
from .types import ClientConfig, RepositoryInfo, TagDetails
from .v2 import _labels, _platform, parse_created

API = "/api/v2.0"
# Harbor refuses page_size above 100.
PAGE_SIZE = 100


def basic_authorization(config: ClientConfig) -> str:
    """Return the ``Basic`` Authorization value for the config's credentials."""
    pair = f"{config.username}:{config.password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


class _KeepOnOrigin(BaseAdapter):
    """Drop one Authorization value from any request that leaves ``origin``."""

    def __init__(self, inner: BaseAdapter, origin: tuple, authorization: str) -> None:
        super().__init__()
        self.inner = inner
        self.origin = origin
        self.authorization = authorization

    def send(self, request, **kwargs):
        if (
            origin_of(request.url) != self.origin
            and request.headers.get("Authorization") == self.authorization
        ):
            del request.headers["Authorization"]
        return self.inner.send(request, **kwargs)

    def close(self) -> None:
        self.inner.close()


class UpfrontAuthTransport(Transport):
    """A transport that sends ``authorization`` on every request, up front.

    For APIs that never challenge: Harbor's REST API runs a request without
    credentials as anonymous, and Artifactory takes access tokens as Bearer.
    The value still never reaches another origin, redirects included.
    """

    def __init__(self, config: ClientConfig, authorization: str) -> None:
        super().__init__(config)
        self.authorization = authorization
        if authorization:
            for prefix in ("https://", "http://"):
                inner = self.session.get_adapter(prefix)
                self.session.mount(
                    prefix, _KeepOnOrigin(inner, self.origin, authorization)
                )

    def request(self, method: str, url: str, *, headers=None, **kwargs):
        """Send like ``Transport.request``, with the up-front Authorization."""
        if self.authorization and origin_of(self.url(url)) == self.origin:
            headers = {"Authorization": self.authorization, **(headers or {})}
        return super().request(method, url, headers=headers, **kwargs)


class HarborClient:
    """Read-only adapter over Harbor's REST API."""

    can_list = True
    can_search = True

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        has_credentials = bool(config.username or config.password)
        self.transport = UpfrontAuthTransport(
            config, basic_authorization(config) if has_credentials else ""
        )

    # -- plumbing ---------------------------------------------------------------

    def _get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        data, _ = self.transport.get_json(API + path, params=params, auth=False)
        return data

    def _pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict]:
        """Yield the items of every page of a paged list endpoint."""
        first = {**(params or {}), "page": 1, "page_size": PAGE_SIZE}
        pages = self.transport.iter_link_pages(API + path, first, auth=False)
        for data, response in pages:
            if not isinstance(data, list):
                raise errors.ProtocolError(
                    f"{response.url} did not answer a list.", url=response.url
                )
            yield from (item for item in data if isinstance(item, dict))

    @staticmethod
    def _artifacts_path(repository: str) -> str:
        project, sep, name = repository.strip("/").partition("/")
        if not sep or not name:
            raise errors.NotFound(
                f"{repository!r} is not a Harbor repository name (<project>/<name>)."
            )
        # Harbor decodes the path before routing: a slash inside the repository
        # name must survive one decoding, so it is encoded twice.
        encoded = quote(quote(name, safe=""), safe="")
        return f"/projects/{quote(project, safe='')}/repositories/{encoded}/artifacts"

    def _artifact(self, repository: str, reference: str, *, with_tag: bool) -> dict:
        path = f"{self._artifacts_path(repository)}/{quote(reference, safe=':')}"
        data = self._get_json(path, {"with_tag": "true" if with_tag else "false"})
        if not isinstance(data, dict) or not isinstance(data.get("digest"), str):
            raise errors.ProtocolError(
                f"Harbor answered a malformed artifact for {repository}:{reference}."
            )
        return data

    # -- detection ----------------------------------------------------------------

    def ping(self) -> bool:
        """Tell whether ``/api/v2.0/ping`` answers ``Pong``."""
        response = self.transport.request(
            "GET", API + "/ping", auth=False, allow_status=range(400, 600)
        )
        return (
            response.status_code == 200 and response.text.strip().strip('"') == "Pong"
        )

    def system_info(self) -> dict:
        """Return ``/api/v2.0/systeminfo`` (version, auth mode, external URL)."""
        data = self._get_json("/systeminfo")
        if not isinstance(data, dict):
            raise errors.ProtocolError("Harbor answered malformed system information.")
        return data

    # -- RegistryAdapter ------------------------------------------------------------

    def list_repositories(self, prefix: str = "") -> Iterator[RepositoryInfo]:
        """Yield repositories starting with ``prefix``, project by project.

        A prefix with a slash (``proj/sub``) names its project, so only that
        project is read.
        """
        project, sep, _ = prefix.partition("/")
        if sep:
            projects: Iterator[str] = iter([project])
        else:
            projects = (
                p["name"]
                for p in self._pages("/projects")
                if isinstance(p.get("name"), str) and p["name"].startswith(prefix)
            )
        for name in projects:
            repositories = self._pages(f"/projects/{quote(name, safe='')}/repositories")
            try:
                for repo in repositories:
                    full = repo.get("name")
                    if isinstance(full, str) and full.startswith(prefix):
                        yield RepositoryInfo(
                            name=full,
                            description=repo.get("description") or "",
                            pull_count=int_or_none(repo.get("pull_count")),
                        )
            except errors.NotFound:
                continue  # a project named by the prefix that does not exist

    def list_tags(self, repository: str) -> list[str]:
        """Return every tag of ``repository`` (``<project>/<name>``)."""
        tags: list[str] = []
        for artifact in self._pages(
            self._artifacts_path(repository), {"with_tag": "true"}
        ):
            for tag in artifact.get("tags") or ():
                if isinstance(tag, dict) and isinstance(tag.get("name"), str):
                    tags.append(tag["name"])
        return list(dict.fromkeys(tags))

    def head_digest(self, repository: str, reference: str) -> str:
        """Return the digest Harbor records for ``reference``; no pull is counted."""
        return self._artifact(repository, reference, with_tag=False)["digest"]

    def describe(self, repository: str, tag: str) -> TagDetails:
        """Resolve ``tag`` from Harbor's artifact record.

        ``size`` is Harbor's artifact size (which includes the manifest itself).
        For an index, as for every adapter, ``size``, ``created`` and ``labels``
        come from the first platform image, the one child record fetched.
        """
        artifact = self._artifact(repository, tag, with_tag=True)
        media_type = (
            artifact.get("manifest_media_type") or artifact.get("media_type") or ""
        )
        references = [
            r for r in artifact.get("references") or () if isinstance(r, dict)
        ]
        if not references:
            # extra_attrs has the shape of an image config: read it alike.
            attrs = artifact.get("extra_attrs") or {}
            platform = _platform(attrs)
            return TagDetails(
                repository=repository,
                tag=tag,
                digest=artifact["digest"],
                media_type=media_type,
                size=int_or_none(artifact.get("size")),
                created=parse_created(attrs.get("created")),
                platforms=(platform,) if platform else (),
                labels=_labels(attrs),
            )
        with_platform = [
            (r, _platform(r.get("platform") or {}))
            for r in references
            if isinstance(r.get("child_digest"), str)
        ]
        platforms = tuple(p for _, p in with_platform if p)
        first = next((r for r, p in with_platform if p), None)
        child = (
            self._artifact(repository, first["child_digest"], with_tag=False)
            if first
            else {}
        )
        attrs = child.get("extra_attrs") or {}
        return TagDetails(
            repository=repository,
            tag=tag,
            digest=artifact["digest"],
            media_type=media_type,
            size=int_or_none(child.get("size")),
            created=parse_created(attrs.get("created")),
            platforms=platforms,
            labels=_labels(attrs),
        )

    def search(self, query: str, *, limit: int = 25) -> list[RepositoryInfo]:
        """Return up to ``limit`` repositories from Harbor's (unpaged) search."""
        data = self._get_json("/search", {"q": query})
        repositories = data.get("repository") if isinstance(data, dict) else None
        if not isinstance(repositories, list):
            raise errors.ProtocolError("Harbor answered a malformed search result.")
        found = (
            RepositoryInfo(
                name=item["repository_name"],
                pull_count=int_or_none(item.get("pull_count")),
            )
            for item in repositories
            if isinstance(item, dict) and isinstance(item.get("repository_name"), str)
        )
        return list(islice(found, limit))


def int_or_none(value: object) -> int | None:
    """Return ``value`` if it is a real integer (not a bool), else ``None``."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None

"""Read a legacy V1 registry or index: ping, search and tags.

V1 has no manifests and no content digests. Where the shared interface asks for a
digest, this client returns the V1 *image id* (64 hex characters, no ``sha256:``
prefix) that ``/v1/repositories/<ns>/<repo>/tags`` maps each tag to.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from urllib.parse import quote

from . import errors
from .transport import Transport
from .types import ClientConfig, RepositoryInfo, TagDetails

DEFAULT_NAMESPACE = "library"
# The V1 search API has no documented upper bound; stay modest per request.
MAX_PAGE_SIZE = 100
# A search never needs more pages than this (100 000 names at the largest size).
MAX_SEARCH_PAGES = 1000


@dataclass(frozen=True)
class V1Ping:
    """What ``/v1/_ping`` told about the server."""

    standalone: bool | None
    version: str = ""


def split_name(repository: str) -> tuple[str, str]:
    """Return ``(namespace, name)``; a bare name lives in ``library``."""
    namespace, sep, name = repository.strip("/").partition("/")
    return (namespace, name) if sep else (DEFAULT_NAMESPACE, namespace)


def full_name(repository: str) -> str:
    """Return ``namespace/name`` with the default namespace filled in."""
    return "/".join(split_name(repository))


def parse_search_results(data: object, url: str) -> list[RepositoryInfo]:
    """Read the ``results`` of a V1 search answer (full or standalone shape)."""
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list):
        raise errors.ProtocolError(f"{url} answered a search without results.", url=url)
    found = []
    for item in results:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise errors.ProtocolError(f"{url} answered a malformed result.", url=url)
        stars = item.get("star_count")
        found.append(
            RepositoryInfo(
                name=full_name(item["name"]),
                description=item.get("description") or "",
                star_count=stars if isinstance(stars, int) else None,
                is_official=item.get("is_official") is True,
            )
        )
    return found


class V1Client:
    """Read-only adapter for a V1 registry; see the module docstring on digests."""

    can_list = True
    can_search = True

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self.transport = Transport(config)

    def ping(self) -> V1Ping:
        """Call ``/v1/_ping`` and report whether the registry is standalone."""
        response = self.transport.request("GET", "/v1/_ping")
        flag = response.headers.get("X-Docker-Registry-Standalone")
        standalone = None if flag is None else flag.strip().lower() in ("true", "1")
        return V1Ping(standalone, response.headers.get("X-Docker-Registry-Version", ""))

    def iter_search(
        self, query: str, *, page_size: int = 25
    ) -> Iterator[RepositoryInfo]:
        """Yield every search result, page by page.

        The full index pages with ``n``, ``page`` and ``num_pages``; a standalone
        registry sends everything at once without ``num_pages``, so its first
        answer is the last.
        """
        page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        page = 1
        previous: list[str] = []
        while True:
            data, response = self.transport.get_json(
                "/v1/search", params={"q": query, "n": page_size, "page": page}
            )
            results = parse_search_results(data, response.url)
            names = [info.name for info in results]
            if page > 1 and names == previous:
                raise errors.ProtocolError(
                    f"{response.url} answered page {page} like page {page - 1}; "
                    "the registry ignores the page parameter.",
                    url=response.url,
                )
            yield from results
            num_pages = data.get("num_pages")
            if not results or not isinstance(num_pages, int) or page >= num_pages:
                return
            if page >= MAX_SEARCH_PAGES:
                raise errors.ProtocolError(
                    f"{response.url} claims {num_pages} pages of results; "
                    f"read {MAX_SEARCH_PAGES}, the most a search may take.",
                    url=response.url,
                )
            previous = names
            page += 1

    def search(self, query: str, *, limit: int = 25) -> list[RepositoryInfo]:
        """Return up to ``limit`` repositories matching ``query``."""
        return list(islice(self.iter_search(query, page_size=limit), limit))

    def list_repositories(self, prefix: str = "") -> Iterator[RepositoryInfo]:
        """Yield repositories starting with ``prefix``, found through search.

        V1 has no catalog. Searches match anywhere in a name, and the index names
        official images without ``library/``, so the last segment of the prefix
        is searched for and the results filtered here.
        """
        query = prefix.rsplit("/", 1)[-1]
        for info in self.iter_search(query, page_size=MAX_PAGE_SIZE):
            if info.name.startswith(prefix):
                yield info

    def _tags(self, repository: str) -> dict[str, str]:
        namespace, name = split_name(repository)
        path = (
            f"/v1/repositories/{quote(namespace, safe='')}/{quote(name, safe='')}/tags"
        )
        data, response = self.transport.get_json(path)
        if not isinstance(data, dict) or not all(
            isinstance(v, str) for v in data.values()
        ):
            raise errors.ProtocolError(
                f"{response.url} did not answer a tag to image id map.",
                url=response.url,
            )
        return data

    def list_tags(self, repository: str) -> list[str]:
        """Return every tag of ``repository``, sorted."""
        return sorted(self._tags(repository))

    def head_digest(self, repository: str, reference: str) -> str:
        """Return the V1 image id of tag ``reference`` (not a content digest)."""
        image_id = self._tags(repository).get(reference)
        if image_id is None:
            raise errors.NotFound(f"{full_name(repository)} has no tag {reference!r}.")
        return image_id

    def describe(self, repository: str, tag: str) -> TagDetails:
        """Return the tag with its V1 image id in ``digest``; V1 tells nothing more.

        ``media_type`` stays empty: a V1 image has no manifest.
        """
        return TagDetails(
            repository=full_name(repository),
            tag=tag,
            digest=self.head_digest(repository, tag),
            media_type="",
        )

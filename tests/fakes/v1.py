"""A fake legacy V1 registry: either a full index or a standalone registry.

Faithful fake built from the documented shapes (PROTOCOLS.md, section V1, after the
legacy V1 registry spec); no V1 server can be run or reached here. The full index
pages its search (``n``, ``page``, ``num_pages``); a standalone registry answers
``X-Docker-Registry-Standalone: True`` and returns ``query, num_results, results``
with only ``name`` and ``description``, ignoring paging.
"""

from __future__ import annotations

import math
from urllib.parse import unquote

from . import FakeServer, Reply, Request, json_reply


def index_search_reply(request: Request, entries: list[dict]) -> Reply:
    """Answer a full index's paged search over ``entries``.

    Each entry has ``name`` (``namespace/name``), ``description``,
    ``star_count`` and ``is_official``.
    """
    page_size = int(request.param("n") or 25)
    page = int(request.param("page") or 1)
    chunk = entries[(page - 1) * page_size : page * page_size]
    return json_reply(
        {
            "num_pages": max(1, math.ceil(len(entries) / page_size)),
            "num_results": len(entries),
            "page_size": page_size,
            "query": request.param("q"),
            "page": page,
            "results": [
                {
                    # The index names official images without ``library/``.
                    "name": entry["name"].removeprefix("library/"),
                    "description": entry["description"],
                    "star_count": entry["star_count"],
                    "is_official": entry["is_official"],
                    "is_automated": False,
                }
                for entry in chunk
            ],
        }
    )


class FakeV1Registry(FakeServer):
    """Serve ``/v1/_ping``, ``/v1/search`` and ``/v1/repositories/<ns>/<r>/tags``."""

    def __init__(
        self,
        *,
        standalone: bool,
        users: dict[str, str] | None = None,
        version: str | None = None,
    ) -> None:
        super().__init__()
        self.standalone = standalone
        self.users = users or {}
        self.version = version
        # name -> {"description": str, "star_count": int, "is_official": bool}
        self.repositories: dict[str, dict] = {}
        # name -> {tag: image id}
        self.tags: dict[str, dict[str, str]] = {}

    def add_repository(
        self,
        name: str,
        tags: dict[str, str],
        *,
        description: str = "",
        star_count: int = 0,
        is_official: bool = False,
    ) -> None:
        """Add ``namespace/name`` with its tags mapped to V1 image ids."""
        self.repositories[name] = {
            "description": description,
            "star_count": star_count,
            "is_official": is_official,
        }
        self.tags[name] = dict(tags)

    def extra_headers(self) -> list[tuple[str, str]]:
        headers = []
        if self.standalone:
            headers.append(("X-Docker-Registry-Standalone", "True"))
        if self.version:
            headers.append(("X-Docker-Registry-Version", self.version))
        return headers

    def handle(self, request: Request) -> Reply:
        if self.users and not self._authorised(request):
            return json_reply(
                {"error": "Requires authorization"},
                401,
                [("WWW-Authenticate", 'Basic realm="fake-v1"')],
            )
        path = unquote(request.path)
        if path == "/v1/_ping":
            return json_reply(True)
        if path == "/v1/search":
            return self._search(request)
        parts = path.split("/")
        # /v1/repositories/<ns>/<repo>/tags
        if (
            len(parts) == 6
            and parts[1:3] == ["v1", "repositories"]
            and parts[5] == "tags"
        ):
            name = f"{parts[3]}/{parts[4]}"
            if name not in self.tags:
                return json_reply({"error": "Repository not found"}, 404)
            return json_reply(self.tags[name])
        return json_reply({"error": "Not found"}, 404)

    def _authorised(self, request: Request) -> bool:
        credentials = request.basic_credentials()
        return (
            credentials is not None and self.users.get(credentials[0]) == credentials[1]
        )

    def _search(self, request: Request) -> Reply:
        query = request.param("q")
        needle = query.lower()
        matches = [
            (name, info)
            for name, info in sorted(self.repositories.items())
            if needle in name.lower() or needle in info["description"].lower()
        ]
        if self.standalone:
            results = [{"name": n, "description": i["description"]} for n, i in matches]
            return json_reply(
                {"query": query, "num_results": len(results), "results": results}
            )
        entries = [{"name": n, **info} for n, info in matches]
        return index_search_reply(request, entries)

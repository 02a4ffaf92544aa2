"""A fake Docker Hub: the hub API, the token service and the registry, on three ports.

Faithful fake built from the documented shapes (PROTOCOLS.md, sections Docker Hub,
V1 and V2, the token spec, and Docker's Hub API reference for the tag endpoints);
the real Docker Hub cannot be reached here. The hub API (``/v2/search/repositories/``,
``/v2/repositories/<ns>/<r>/tags/``, ``/v2/namespaces/<ns>/repositories/<r>/tags``
and ``.../tags/<tag>``, and the index's ``/v1/search``) answers anonymously; the
registry has no catalog, wants official images under ``library/``, sends
``ratelimit-limit`` and ``ratelimit-remaining`` and answers 429 with
``Retry-After`` once a manifest GET exceeds the limit (HEADs are not counted).

Tags come as the reference's ``paginated_tags`` / ``tag`` schemas (``name``,
``digest``, ``full_size``, ``last_updated``, ``images[]`` with ``os``,
``architecture``, ``variant``, ``size``, ``digest``; ``count``, ``next``,
``previous``), ``page_size`` defaults to 10 and is capped at 100, and a page past
the last is a 404 (pages are Django REST framework pages). The reference documents
no order: the fake lists newest ``last_updated`` first, ties in push order.
``last_updated`` is the image's ``created`` unless set in ``last_updated``.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlencode

from . import (
    MT_OCI_INDEX,
    FakeServer,
    ImageStore,
    Reply,
    Request,
    bearer_challenge,
    json_reply,
    v2_error,
)
from .v1 import index_search_reply

SERVICE = "registry.docker.io"


@dataclass
class HubRepository:
    name: str
    description: str = ""
    star_count: int = 0
    pull_count: int = 0
    is_official: bool = False


class _Part(FakeServer):
    def __init__(self, hub: FakeDockerHub, handler) -> None:
        super().__init__()
        self.hub = hub
        self._handler = handler

    def handle(self, request: Request) -> Reply:
        return self._handler(request)


class FakeDockerHub:
    """Docker Hub's hub API, token service and registry as three fake servers."""

    def __init__(self, *, rate_limit: int = 100, retry_after: int = 60) -> None:
        self.store = ImageStore()
        self.repositories: dict[str, HubRepository] = {}
        self.users: dict[str, str] = {}
        self.rate_limit = rate_limit
        self.retry_after = retry_after
        self.pulls = 0
        # When set, the hub's v2 search answers with this status (to exercise the
        # client's fallback to the index's V1 search).
        self.hub_search_status: int | None = None
        # When set, ``next`` links of the hub API point at this base URL instead.
        self.next_base: str | None = None
        # (repository, tag) -> last_updated, overriding the image's created time.
        self.last_updated: dict[tuple[str, str], str] = {}
        # When set, the hub API's tag endpoints answer 429 asking to wait this long.
        self.tags_retry_after: int | None = None
        # Seconds the hub API's tag endpoints wait before answering (timeouts).
        self.tags_delay: float = 0.0
        self._tokens: dict[str, tuple[str, set[str]]] = {}
        self.hub = _Part(self, self._hub)
        self.auth = _Part(self, self._auth)
        self.registry = _Part(self, self._registry)

    # -- set-up ---------------------------------------------------------------

    def add_repository(self, name: str, **info) -> HubRepository:
        """Add a public repository (official ones are named ``library/<x>``)."""
        repo = HubRepository(name, is_official=name.startswith("library/"), **info)
        self.repositories[name] = repo
        self.store.add_repository(name)
        return repo

    def start(self) -> FakeDockerHub:
        for part in (self.hub, self.auth, self.registry):
            part.start()
        return self

    def stop(self) -> None:
        for part in (self.hub, self.auth, self.registry):
            part.stop()

    def __enter__(self) -> FakeDockerHub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def client_kwargs(self) -> dict[str, str]:
        """Return the URL keyword arguments that point a client at this fake."""
        return {
            "hub_url": self.hub.url,
            "registry_url": self.registry.url,
            "auth_url": self.auth.url,
            "index_url": self.hub.url,
        }

    # -- hub API --------------------------------------------------------------

    def _hub(self, request: Request) -> Reply:
        path = unquote(request.path)
        if path == "/v2/search/repositories/":
            if self.hub_search_status is not None:
                return json_reply({"message": "unavailable"}, self.hub_search_status)
            return self._hub_search(request)
        if path == "/v1/search":
            return self._index_search(request)
        parts = path.strip("/").split("/")
        # v2/repositories/<ns>/<repo>/tags[/<tag>] (PROTOCOLS.md) and the
        # reference's v2/namespaces/<ns>/repositories/<repo>/tags[/<tag>].
        if parts[:2] == ["v2", "repositories"] and len(parts) in (5, 6):
            name, rest = f"{parts[2]}/{parts[3]}", parts[4:]
        elif (
            parts[:2] == ["v2", "namespaces"]
            and len(parts) in (6, 7)
            and parts[3] == "repositories"
        ):
            name, rest = f"{parts[2]}/{parts[4]}", parts[5:]
        else:
            return json_reply({"message": "object not found"}, 404)
        if rest[0] != "tags":
            return json_reply({"message": "object not found"}, 404)
        if self.tags_delay:
            time.sleep(self.tags_delay)
        if self.tags_retry_after is not None:
            return json_reply(
                {"detail": "Rate limit exceeded", "error": False},
                429,
                [
                    ("Retry-After", str(self.tags_retry_after)),
                    ("X-Retry-After", str(int(time.time()) + self.tags_retry_after)),
                ],
            )
        if len(rest) == 2:
            return self._hub_tag(name, rest[1])
        return self._hub_tags(request, name)

    def _matches(self, query: str) -> list[HubRepository]:
        needle = query.lower()
        return [
            repo
            for name, repo in sorted(self.repositories.items())
            if needle in name.lower() or needle in repo.description.lower()
        ]

    def _hub_list(self, request: Request, items: list, default_size: int, render):
        """Answer one page of a hub API list, with absolute next/previous URLs."""
        page = int(request.param("page") or 1)
        size = min(int(request.param("page_size") or default_size), 100)
        params = {k: v[0] for k, v in request.query.items()}

        def page_url(base: str, to_page: int) -> str:
            query = urlencode({**params, "page": to_page, "page_size": size})
            return f"{base}{request.path}?{query}"

        if page > 1 and (page - 1) * size >= len(items):
            return json_reply({"detail": "Invalid page."}, 404)
        next_url = None
        if page * size < len(items):
            next_url = page_url(self.next_base or self.hub.url, page + 1)
        return json_reply(
            {
                "count": len(items),
                "next": next_url,
                "previous": page_url(self.hub.url, page - 1) if page > 1 else None,
                "results": [render(i) for i in items[(page - 1) * size : page * size]],
            }
        )

    def _hub_search(self, request: Request) -> Reply:
        def render(repo: HubRepository) -> dict:
            return {
                # Official images carry no ``library/`` in the hub API.
                "repo_name": repo.name.removeprefix("library/"),
                "short_description": repo.description,
                "star_count": repo.star_count,
                "pull_count": repo.pull_count,
                "repo_owner": None,
                "is_official": repo.is_official,
                "is_automated": False,
            }

        return self._hub_list(
            request, self._matches(request.param("query")), 25, render
        )

    def _index_search(self, request: Request) -> Reply:
        entries = [
            {
                "name": repo.name,
                "description": repo.description,
                "star_count": repo.star_count,
                "is_official": repo.is_official,
            }
            for repo in self._matches(request.param("q"))
        ]
        return index_search_reply(request, entries)

    def _image(self, digest: str) -> dict:
        """Return an ``images[]`` item for a single-platform manifest."""
        document = json.loads(self.store.manifests[digest].data)
        config = json.loads(self.store.blobs[document["config"]["digest"]])
        return {
            "architecture": config["architecture"],
            "features": "",
            "variant": config.get("variant") or None,
            "digest": digest,
            "os": config["os"],
            "os_features": "",
            "os_version": None,
            "size": self.store.manifest_size(digest),
            "status": "active",
            "last_pulled": None,
            "last_pushed": config["created"],
            "_created": config["created"],
        }

    def _tag(self, name: str, tag: str) -> dict:
        """Render one tag as the reference's ``tag`` schema."""
        digest = self.store.tags[name][tag]
        manifest = self.store.manifests[digest]
        if manifest.media_type == MT_OCI_INDEX:
            children = json.loads(manifest.data)["manifests"]
            images = [self._image(child["digest"]) for child in children]
        else:
            images = [self._image(digest)]
        created = images[0].pop("_created") if images else None
        for image in images:
            image.pop("_created", None)
        updated = self.last_updated.get((name, tag), created)
        return {
            "creator": 1234,
            "id": abs(hash((name, tag))) % 10**8,
            "images": images,
            "last_updated": updated,
            "last_updater": 1234,
            "last_updater_username": "dockeruser",
            "name": tag,
            "repository": abs(hash(name)) % 10**8,
            "full_size": images[0]["size"] if images else 0,
            "v2": True,
            "tag_status": "active",
            "tag_last_pulled": None,
            "tag_last_pushed": updated,
            "media_type": manifest.media_type,
            "content_type": "image",
            "digest": digest,
        }

    def _hub_tag(self, name: str, tag: str) -> Reply:
        if name not in self.repositories or tag not in self.store.tags[name]:
            return json_reply({"message": "httperror 404: object not found"}, 404)
        return json_reply(self._tag(name, tag))

    def _hub_tags(self, request: Request, name: str) -> Reply:
        if name not in self.repositories:
            return json_reply({"message": "httperror 404: object not found"}, 404)
        rendered = [self._tag(name, tag) for tag in self.store.tags[name]]
        # Newest first; Python's sort is stable, so ties keep push order.
        rendered.sort(key=lambda item: item["last_updated"] or "", reverse=True)
        return self._hub_list(request, rendered, 10, lambda item: item)

    # -- token service --------------------------------------------------------

    def _auth(self, request: Request) -> Reply:
        if unquote(request.path) != "/token":
            return json_reply({"details": "not found"}, 404)
        if request.method == "POST":
            # The OAuth2 form variant of the token spec.
            form = parse_qs(request.body.decode(), keep_blank_values=True)
            fields = {key: values[0] for key, values in form.items()}
            if fields.get("grant_type") != "password":
                return json_reply({"details": "unsupported grant_type"}, 400)
            credentials = (fields.get("username", ""), fields.get("password", ""))
            service = fields.get("service", "")
            scopes = fields.get("scope", "").split(" ")
        else:
            credentials = request.basic_credentials()
            service = request.param("service")
            scopes = request.query.get("scope", [])
        if service != SERVICE:
            return json_reply({"details": "invalid service"}, 400)
        user = "anonymous"
        if credentials is not None:
            if self.users.get(credentials[0]) != credentials[1]:
                return json_reply({"details": "incorrect username or password"}, 401)
            user = credentials[0]
        granted = set()
        for scope in scopes:
            for item in scope.split(" "):
                kind, _, rest = item.partition(":")
                name, _, actions = rest.rpartition(":")
                # Pull on public repositories only; never the catalog.
                if (
                    kind == "repository"
                    and name in self.repositories
                    and "pull" in actions
                ):
                    granted.add(name)
        token = secrets.token_urlsafe(16)
        self._tokens[token] = (user, granted)
        return json_reply(
            {
                "token": token,
                "access_token": token,
                "expires_in": 300,
                "issued_at": "2024-05-06T07:08:09Z",
            }
        )

    # -- registry -------------------------------------------------------------

    def _challenge(self, scope: str = "", error: str = "") -> tuple[str, str]:
        realm = f"{self.auth.url}/token"
        return ("Www-Authenticate", bearer_challenge(realm, SERVICE, scope, error))

    def _rate_headers(self, user: str) -> list[tuple[str, str]]:
        # Authenticated users get twice the anonymous allowance, as on the Hub.
        limit = self.rate_limit * (2 if user != "anonymous" else 1)
        remaining = max(limit - self.pulls, 0)
        return [
            ("ratelimit-limit", f"{limit};w=21600"),
            ("ratelimit-remaining", f"{remaining};w=21600"),
            ("docker-ratelimit-source", "127.0.0.1"),
        ]

    def _registry(self, request: Request) -> Reply:
        api = [("Docker-Distribution-Api-Version", "registry/2.0")]
        token = self._tokens.get(request.bearer_token() or "")
        path = request.path
        if not path.startswith("/v2/"):
            return v2_error(404, "NOT_FOUND", "not found", api)
        rest = path.removeprefix("/v2/")
        if rest == "":
            if token is None:
                return v2_error(
                    401,
                    "UNAUTHORIZED",
                    "authentication required",
                    [*api, self._challenge()],
                )
            return self.store.serve(request, rest, "/v2/")
        name = unquote(rest).split("/manifests/")[0].split("/blobs/")[0]
        name = name.removesuffix("/tags/list")
        scope = (
            f"repository:{name}:pull" if rest != "_catalog" else "registry:catalog:*"
        )
        if token is None or name not in token[1]:
            error = "insufficient_scope" if token is not None else ""
            return v2_error(
                401,
                "UNAUTHORIZED",
                "authentication required",
                [*api, self._challenge(scope, error)],
            )
        user = token[0]
        if "/manifests/" in rest:
            if request.method == "GET":
                if self.pulls >= self.rate_limit * (2 if user != "anonymous" else 1):
                    return v2_error(
                        429,
                        "TOOMANYREQUESTS",
                        "You have reached your pull rate limit.",
                        [
                            *api,
                            *self._rate_headers(user),
                            ("Retry-After", str(self.retry_after)),
                        ],
                    )
                self.pulls += 1
            reply = self.store.serve(request, rest, "/v2/")
            reply.headers[:0] = [*api, *self._rate_headers(user)]
            return reply
        reply = self.store.serve(request, rest, "/v2/")
        reply.headers[:0] = api
        return reply

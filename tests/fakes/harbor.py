"""A fake Harbor 2.x: the ``/api/v2.0`` REST API, its token service and registry.

Faithful fake built from the documented shapes (PROTOCOLS.md, section Harbor 2.x,
after Harbor's ``api/v2.0/swagger.yaml``); no Harbor can be run or reached here.
Projects are public or private with members; the API takes Basic credentials
(robot accounts ``robot$<project>+<name>`` included), pages with ``page`` and
``page_size`` (at most 100), ``X-Total-Count`` and a relative ``Link``; repository
names in paths are given without the project and with slashes double-encoded. The
registry side challenges with a lower-case ``www-authenticate`` header naming
``<external url>/service/token`` and service ``harbor-registry``, and only system
administrators get ``_catalog``.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from urllib.parse import unquote, urlencode

from . import (
    MT_OCI_INDEX,
    FakeServer,
    ImageStore,
    Reply,
    Request,
    bearer_challenge,
    json_reply,
    text_reply,
    v2_error,
)

SERVICE = "harbor-registry"
API = "/api/v2.0"


@dataclass
class HarborProject:
    project_id: int
    name: str
    public: bool
    members: set[str] = field(default_factory=set)


def _harbor_error(status: int, code: str, message: str) -> Reply:
    return json_reply({"errors": [{"code": code, "message": message}]}, status)


class FakeHarbor(FakeServer):
    """Serve Harbor's REST API, token service and registry from one port."""

    def __init__(self, *, version: str = "v2.11.0-6bbd7c2a") -> None:
        super().__init__()
        self.version = version
        self.store = ImageStore()
        self.projects: dict[str, HarborProject] = {}
        self.users: dict[str, str] = {"admin": "Harbor12345"}
        self.admins: set[str] = {"admin"}
        # When set, every API request is redirected (307) to this base URL.
        self.api_redirect: str | None = None
        # token -> (user or None for anonymous, granted repositories/"catalog")
        self._tokens: dict[str, tuple[str | None, set[str]]] = {}

    # -- set-up ---------------------------------------------------------------

    def add_project(self, name: str, *, public: bool, members=()) -> HarborProject:
        """Add a project; ``members`` are user names allowed to read it."""
        project = HarborProject(len(self.projects) + 1, name, public, set(members))
        self.projects[name] = project
        return project

    def add_user(self, name: str, password: str, *, admin: bool = False) -> None:
        """Add a user or robot account."""
        self.users[name] = password
        if admin:
            self.admins.add(name)

    def artifact_size(self, digest: str) -> int:
        """Return an image's size as Harbor counts it: with the manifest itself."""
        return self.store.manifest_size(digest) + len(self.store.manifests[digest].data)

    # -- access ---------------------------------------------------------------

    def _user(self, request: Request) -> str | None:
        """Return the user name, or ``None`` for anonymous.

        Like Harbor, credentials that do not authenticate are not an error: the
        request simply goes on as anonymous.
        """
        credentials = request.basic_credentials()
        if credentials is None or self.users.get(credentials[0]) != credentials[1]:
            return None
        return credentials[0]

    def _can_read(self, user: str | None, project: HarborProject) -> bool:
        return project.public or user in self.admins or user in project.members

    # -- dispatch -------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        if request.path.startswith(API + "/"):
            if self.api_redirect:
                return Reply(
                    307, headers=[("Location", self.api_redirect + request.target)]
                )
            return self._api(request)
        if request.path == "/service/token":
            return self._token(request)
        if request.path.startswith("/v2/"):
            return self._registry(request)
        return text_reply("404 page not found", 404)

    # -- REST API -------------------------------------------------------------

    def _api(self, request: Request) -> Reply:
        user = self._user(request)
        # Harbor's router decodes the path once and then splits it, which is why
        # a slash inside a repository name must be encoded twice.
        segments = unquote(request.path).removeprefix(API + "/").split("/")
        segments = [unquote(s) for s in segments]
        if segments == ["ping"]:
            return text_reply("Pong")
        if segments == ["systeminfo"]:
            return json_reply(
                {
                    "harbor_version": self.version,
                    "auth_mode": "db_auth",
                    "registry_url": self.host,
                    "external_url": self.url,
                    "project_creation_restriction": "everyone",
                    "self_registration": False,
                    "has_ca_root": False,
                    "read_only": False,
                }
            )
        if segments == ["search"]:
            return self._search(request, user)
        if segments[0] != "projects":
            return _harbor_error(404, "NOT_FOUND", "not found")
        if len(segments) == 1:
            visible = [p for p in self.projects.values() if self._can_read(user, p)]
            return self._paged(request, visible, self._project_json)
        project = self.projects.get(segments[1])
        if project is None:
            return _harbor_error(404, "NOT_FOUND", f"project {segments[1]} not found")
        if not self._can_read(user, project):
            if user is None:
                return _harbor_error(401, "UNAUTHORIZED", "UnAuthorized")
            return _harbor_error(403, "FORBIDDEN", "forbidden")
        if segments[2:] == ["repositories"]:
            names = sorted(
                n for n in self.store.tags if n.startswith(project.name + "/")
            )
            return self._paged(
                request, names, lambda n: self._repository_json(project, n)
            )
        if (
            len(segments) in (5, 6)
            and segments[2] == "repositories"
            and segments[4] == "artifacts"
        ):
            name = f"{project.name}/{segments[3]}"
            if name not in self.store.tags:
                return _harbor_error(404, "NOT_FOUND", f"repository {name} not found")
            with_tag = request.param("with_tag", "true") == "true"
            if len(segments) == 6:
                return self._artifact(name, segments[5], with_tag)
            digests = list(dict.fromkeys(self.store.tags[name].values()))
            return self._paged(
                request, digests, lambda d: self._artifact_json(name, d, with_tag)
            )
        return _harbor_error(404, "NOT_FOUND", "not found")

    def _paged(self, request: Request, items: list, render) -> Reply:
        page = int(request.param("page") or 1)
        size = int(request.param("page_size") or 10)
        if size > 100 or size < 1 or page < 1:
            return _harbor_error(
                400, "BAD_REQUEST", "page_size must be between 1 and 100"
            )
        chunk = items[(page - 1) * size : page * size]
        params = {k: v[0] for k, v in request.query.items()}

        def link(to_page: int, rel: str) -> str:
            query = urlencode({**params, "page": to_page, "page_size": size})
            return f'<{request.path}?{query}>; rel="{rel}"'

        links = []
        if page > 1:
            links.append(link(page - 1, "prev"))
        if page * size < len(items):
            links.append(link(page + 1, "next"))
        headers = [("X-Total-Count", str(len(items)))]
        if links:
            headers.append(("Link", " , ".join(links)))
        return json_reply([render(item) for item in chunk], headers=headers)

    def _project_json(self, project: HarborProject) -> dict:
        return {
            "project_id": project.project_id,
            "name": project.name,
            "owner_name": "admin",
            "repo_count": sum(
                1 for n in self.store.tags if n.startswith(project.name + "/")
            ),
            "metadata": {"public": "true" if project.public else "false"},
            "creation_time": "2024-01-01T00:00:00.000Z",
        }

    def _repository_json(self, project: HarborProject, name: str) -> dict:
        return {
            "id": sorted(self.store.tags).index(name) + 1,
            "project_id": project.project_id,
            "name": name,
            "description": f"About {name}",
            "artifact_count": len(set(self.store.tags[name].values())),
            "pull_count": 7,
            "creation_time": "2024-01-01T00:00:00.000Z",
            "update_time": "2024-01-02T00:00:00.000Z",
        }

    def _artifact(self, name: str, reference: str, with_tag: bool) -> Reply:
        digest = (
            reference
            if reference.startswith("sha256:")
            else self.store.tags[name].get(reference)
        )
        if digest is None or digest not in self.store.manifests:
            return _harbor_error(
                404, "NOT_FOUND", f"artifact {name}:{reference} not found"
            )
        return json_reply(self._artifact_json(name, digest, with_tag))

    def _artifact_json(self, name: str, digest: str, with_tag: bool) -> dict:
        manifest = self.store.manifests[digest]
        document = json.loads(manifest.data)
        artifact = {
            "id": list(self.store.manifests).index(digest) + 1,
            "type": "IMAGE",
            "digest": digest,
            "media_type": manifest.media_type,
            "manifest_media_type": manifest.media_type,
            "repository_name": name,
            "push_time": "2024-05-06T07:08:09.000Z",
            "pull_time": "0001-01-01T00:00:00.000Z",
            "tags": None,
            "extra_attrs": None,
            "references": None,
        }
        if with_tag:
            artifact["tags"] = [
                {
                    "name": tag,
                    "push_time": "2024-05-06T07:08:09.000Z",
                    "immutable": False,
                }
                for tag, d in self.store.tags[name].items()
                if d == digest
            ] or None
        if manifest.media_type == MT_OCI_INDEX:
            artifact["size"] = len(manifest.data)
            artifact["references"] = [
                {"child_digest": child["digest"], "platform": child["platform"]}
                for child in document["manifests"]
            ]
        else:
            config = json.loads(self.store.blobs[document["config"]["digest"]])
            artifact["size"] = self.artifact_size(digest)
            artifact["extra_attrs"] = {
                "architecture": config["architecture"],
                "os": config["os"],
                "created": config["created"],
                "author": "",
                "config": config["config"],
            }
        return artifact

    def _search(self, request: Request, user: str | None) -> Reply:
        needle = request.param("q").lower()
        projects = [
            p
            for p in self.projects.values()
            if self._can_read(user, p) and needle in p.name.lower()
        ]
        repositories = []
        for name in sorted(self.store.tags):
            project = self.projects[name.split("/", 1)[0]]
            if needle in name.lower() and self._can_read(user, project):
                repositories.append(
                    {
                        "project_id": project.project_id,
                        "project_name": project.name,
                        "project_public": project.public,
                        "repository_name": name,
                        "pull_count": 7,
                        "artifact_count": len(set(self.store.tags[name].values())),
                    }
                )
        return json_reply(
            {
                "project": [self._project_json(p) for p in projects],
                "repository": repositories,
            }
        )

    # -- token service and registry -------------------------------------------

    def _token(self, request: Request) -> Reply:
        if request.param("service") != SERVICE:
            return _harbor_error(400, "BAD_REQUEST", "invalid service")
        if request.method != "GET":
            return _harbor_error(405, "METHOD_NOT_ALLOWED", "method not allowed")
        user = self._user(request)
        scopes = request.query.get("scope", [])
        if user is None and not scopes:
            # A login (no scope) must authenticate; this is what makes
            # ``docker login`` with a wrong password fail.
            return _harbor_error(401, "UNAUTHORIZED", "")
        granted = set()
        for scope in scopes:
            for item in scope.split(" "):
                kind, _, rest = item.partition(":")
                name, _, actions = rest.rpartition(":")
                if kind == "registry" and name == "catalog" and user in self.admins:
                    granted.add("registry:catalog")
                elif kind == "repository" and "pull" in actions.split(","):
                    project = self.projects.get(name.split("/", 1)[0])
                    if project and self._can_read(user, project):
                        granted.add(name)
        token = secrets.token_urlsafe(16)
        self._tokens[token] = (user, granted)
        return json_reply(
            {"token": token, "expires_in": 1800, "issued_at": "2024-05-06T07:08:09Z"}
        )

    def _challenge(self, scope: str = "", error: str = "") -> tuple[str, str]:
        realm = f"{self.url}/service/token"
        # Harbor sends this header name in lower case.
        return ("www-authenticate", bearer_challenge(realm, SERVICE, scope, error))

    def _registry(self, request: Request) -> Reply:
        api = ("Docker-Distribution-Api-Version", "registry/2.0")
        token = self._tokens.get(request.bearer_token() or "")
        rest = request.path.removeprefix("/v2/")
        if rest == "":
            # /v2/ itself wants an authenticated user, not an anonymous token.
            allowed, scope = token is not None and token[0] is not None, ""
        elif rest == "_catalog":
            scope = "registry:catalog:*"
            allowed = token is not None and "registry:catalog" in token[1]
        else:
            name = unquote(rest).split("/manifests/")[0].split("/blobs/")[0]
            name = name.removesuffix("/tags/list")
            scope = f"repository:{name}:pull"
            allowed = token is not None and name in token[1]
        if not allowed:
            error = "insufficient_scope" if token is not None else ""
            return v2_error(
                401,
                "UNAUTHORIZED",
                "unauthorized to access repository",
                [api, self._challenge(scope, error)],
            )
        reply = self.store.serve(request, rest, "/v2/")
        reply.headers.insert(0, api)
        return reply

"""A fake JFrog Artifactory with Docker repositories.

Faithful fake built from the documented shapes (PROTOCOLS.md, section JFrog
Artifactory, after JFrog's Docker REST API docs); no Artifactory can be run or
reached here. Every reply carries ``X-Artifactory-Id``, ``X-JFrog-Version`` and
``Server: Artifactory/...``; errors use ``{"errors": [{"status", "message"}]}`` with
no ``code``; there is no plain ``/v2/`` ping (root or per repository key), so
clients must probe with ``_catalog?n=1``. Each Docker repository key is a V2
registry under ``/artifactory/api/docker/<key>/v2/`` with its token realm at
``.../v2/token``. Credentials: Basic with a password or an access token, or
``Authorization: Bearer <access token>``.
"""

from __future__ import annotations

import json
import secrets
from urllib.parse import unquote

from . import FakeServer, ImageStore, Reply, Request, json_reply

VERSION = "7.77.3"
DOCKER_API = "/artifactory/api/docker/"


def _error(status: int, message: str, headers=()) -> Reply:
    return json_reply(
        {"errors": [{"status": status, "message": message}]}, status, headers
    )


class FakeArtifactory(FakeServer):
    """Serve Artifactory's repository list and per-key Docker V2 APIs."""

    server_header = f"Artifactory/{VERSION} 77703900"

    def __init__(self, *, anonymous: bool = False) -> None:
        super().__init__()
        self.anonymous = anonymous
        # Whether the Docker API takes Basic credentials directly; when false it
        # only takes Bearer tokens from its realm (or access tokens).
        self.docker_basic = True
        self.users: dict[str, str] = {}
        self.access_tokens: dict[str, str] = {}
        self.docker: dict[str, ImageStore] = {}
        self.other_repositories: dict[str, str] = {"libs-release-local": "Maven"}
        self._docker_tokens: dict[str, str] = {}

    def add_docker_repository(self, key: str) -> ImageStore:
        """Add a Docker repository key and return its image store."""
        store = ImageStore()
        self.docker[key] = store
        return store

    def extra_headers(self) -> list[tuple[str, str]]:
        return [
            ("X-Artifactory-Id", "a1b2c3d4e5f6:1a2b3c4d:18f0000000:-8000"),
            ("X-JFrog-Version", f"Artifactory/{VERSION} 77703900"),
        ]

    def _user(self, request: Request) -> str | None | bool:
        """Return the user, ``None`` for anonymous, ``False`` for bad creds."""
        bearer = request.bearer_token()
        if bearer is not None:
            return (
                self.access_tokens.get(bearer)
                or self._docker_tokens.get(bearer)
                or False
            )
        credentials = request.basic_credentials()
        if credentials is None:
            return None
        username, secret = credentials
        if (
            self.users.get(username) == secret
            or self.access_tokens.get(secret) == username
        ):
            return username
        return False

    def handle(self, request: Request) -> Reply:
        path = request.path
        if path == "/artifactory/api/repositories":
            return self._repositories(request)
        if path.startswith(DOCKER_API):
            key, _, rest = path.removeprefix(DOCKER_API).partition("/")
            return self._docker(request, unquote(key), rest)
        return _error(404, "Not Found")

    def _repositories(self, request: Request) -> Reply:
        user = self._user(request)
        if user is False:
            return _error(
                401,
                "Bad credentials",
                [("WWW-Authenticate", 'Basic realm="Artifactory Realm"')],
            )
        if user is None and not self.anonymous:
            return _error(
                401,
                "Authentication is required",
                [("WWW-Authenticate", 'Basic realm="Artifactory Realm"')],
            )
        wanted = request.param("packageType").lower()
        listing = [(key, "Docker") for key in self.docker] + list(
            self.other_repositories.items()
        )
        return json_reply(
            [
                {
                    "key": key,
                    "type": "LOCAL",
                    "packageType": package_type,
                    "description": f"{key} images",
                    "url": f"{self.url}/artifactory/{key}",
                }
                for key, package_type in listing
                if not wanted or package_type.lower() == wanted
            ]
        )

    def _docker(self, request: Request, key: str, rest: str) -> Reply:
        store = self.docker.get(key)
        if store is None or not rest.startswith("v2/"):
            return _error(404, f"Repository '{key}' not found")
        rest = rest.removeprefix("v2/")
        user = self._user(request)
        if rest == "token":
            if request.method != "GET":
                # Only the GET form of the token protocol is documented.
                return _error(405, "Method Not Allowed")
            if user is False:
                return _error(401, "Bad credentials")
            if user is None and not self.anonymous:
                return _error(401, "Authentication is required")
            token = secrets.token_urlsafe(16)
            self._docker_tokens[token] = user or "anonymous"
            return json_reply({"token": token, "expires_in": 3600})
        if user and not self.docker_basic and request.basic_credentials():
            user = False
        if user is False or (user is None and not self.anonymous):
            realm = f"{self.url}{DOCKER_API}{key}/v2/token"
            challenge = f'Bearer realm="{realm}",service="{self.host}"'
            return _error(
                401, "Authentication is required", [("WWW-Authenticate", challenge)]
            )
        if rest == "":
            # Some Artifactory set-ups have no plain /v2/ ping at all.
            return _error(404, "Not Found")
        reply = store.serve(request, rest, f"{DOCKER_API}{key}/v2/")
        if reply.status >= 400:
            # Artifactory reports errors by status and message, without a code.
            message = json.loads(reply.body)["errors"][0]["message"]
            return _error(reply.status, message)
        return reply

"""Read Docker repositories in JFrog Artifactory.

Each Docker repository key is a V2 registry of its own below
``/artifactory/api/docker/<repoKey>``. This adapter joins them into one registry
whose repository names are ``<repoKey>/<image>``, as in the image path form
``<host>/<repoKey>/<image>:<tag>``.

Credentials: a user name with a password (or with an access token) is sent as
Basic; an access token without a user name goes as ``Authorization: Bearer``.
Both go up front, and only ever to the Artifactory origin.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from . import errors
from .harbor import UpfrontAuthTransport, basic_authorization
from .types import ClientConfig, RepositoryInfo, TagDetails
from .v2 import V2Client

CONTEXT_PATH = "/artifactory"
REPOSITORIES_API = CONTEXT_PATH + "/api/repositories"
DOCKER_API = CONTEXT_PATH + "/api/docker/"


def is_artifactory(headers) -> bool:
    """Tell whether response headers carry one of Artifactory's markers."""
    server = headers.get("Server", "") or ""
    return bool(
        headers.get("X-Artifactory-Id")
        or headers.get("X-JFrog-Version")
        or server.lower().startswith("artifactory/")
    )


def split_base_url(base_url: str) -> tuple[str, str | None]:
    """Return the server's root URL and the repository key the URL names, if any.

    People paste ``https://host``, ``https://host/artifactory`` or a key's
    Docker API URL ``https://host/artifactory/api/docker/<repoKey>``.
    """
    parts = urlsplit(base_url.rstrip("/"))
    path, key = parts.path, None
    head, sep, tail = path.partition(DOCKER_API)
    if sep and tail and "/" not in tail:
        path, key = head, unquote(tail)
    elif path.endswith(CONTEXT_PATH):
        path = path[: -len(CONTEXT_PATH)]
    return urlunsplit(parts._replace(path=path)), key


class ArtifactoryClient:
    """Adapter over every Docker repository key, or only ``repo_key``.

    ``repo_key`` may also come from a base URL that names one key.
    """

    can_list = True
    can_search = False

    def __init__(self, config: ClientConfig, *, repo_key: str | None = None) -> None:
        root, key_in_url = split_base_url(config.base_url)
        self.config = replace(config, base_url=root)
        self.repo_key = repo_key or key_in_url
        token = config.password if config.password and not config.username else ""
        if token:
            authorization = f"Bearer {token}"
        elif config.username or config.password:
            authorization = basic_authorization(config)
        else:
            authorization = ""
        # The REST API only challenges when anonymous access is off, so
        # credentials go up front; the Docker API takes them the same way (and
        # where it challenges, the transport fetches a token with them).
        self.transport = UpfrontAuthTransport(self.config, authorization)
        self._clients: dict[str, V2Client] = {}

    def repository_keys(self) -> list[str]:
        """Return the Docker repository keys this adapter covers."""
        if self.repo_key:
            return [self.repo_key]
        data, response = self.transport.get_json(
            REPOSITORIES_API, params={"packageType": "docker"}, auth=False
        )
        if not isinstance(data, list):
            raise errors.ProtocolError(
                f"{response.url} did not answer a repository list.", url=response.url
            )
        return [
            item["key"]
            for item in data
            if isinstance(item, dict)
            and isinstance(item.get("key"), str)
            and str(item.get("packageType", "docker")).lower() == "docker"
        ]

    def v2(self, key: str) -> V2Client:
        """Return the V2 client of one repository key."""
        client = self._clients.get(key)
        if client is None:
            client = V2Client(
                self.config,
                prefix_path=DOCKER_API + quote(key, safe=""),
                transport=self.transport,
            )
            self._clients[key] = client
        return client

    def _split(self, repository: str) -> tuple[V2Client, str]:
        key, sep, image = repository.strip("/").partition("/")
        if not sep or not image or (self.repo_key and key != self.repo_key):
            raise errors.NotFound(
                f"{repository!r} is not an image of this Artifactory "
                "(<repoKey>/<image>)."
            )
        return self.v2(key), image

    def list_repositories(self, prefix: str = "") -> Iterator[RepositoryInfo]:
        """Yield ``<repoKey>/<image>`` names starting with ``prefix``."""
        key_prefix, sep, image_prefix = prefix.partition("/")
        for key in self.repository_keys():
            if sep and key != key_prefix or not sep and not key.startswith(prefix):
                continue
            for info in self.v2(key).list_repositories(image_prefix):
                yield replace(info, name=f"{key}/{info.name}")

    def list_tags(self, repository: str) -> list[str]:
        """Return every tag of ``<repoKey>/<image>``."""
        client, image = self._split(repository)
        return client.list_tags(image)

    def head_digest(self, repository: str, reference: str) -> str:
        """Return the manifest digest of ``reference``."""
        client, image = self._split(repository)
        return client.head_digest(image, reference)

    def describe(self, repository: str, tag: str) -> TagDetails:
        """Resolve ``tag`` through the repository key's V2 API."""
        client, image = self._split(repository)
        return replace(client.describe(image, tag), repository=repository)

    def search(self, query: str, *, limit: int = 25) -> list[RepositoryInfo]:
        """Raise ``NotSupported``: the Docker API of Artifactory has no search."""
        raise errors.NotSupported("Artifactory's Docker API offers no search.")

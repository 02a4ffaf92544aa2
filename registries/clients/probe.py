"""Find out what a registry address is ("Verify") and pick the adapter for it.

Contract of :func:`probe`:

- Network and TLS failures propagate as the transport's typed errors
  (``TLSUntrusted`` with the server's ``certificate``, ``Unreachable``,
  ``Timeout``, ``PlainHTTPNotAllowed``), so the portal can show them.
- An address that answers like no known registry raises ``NotARegistry``.
- Otherwise a ``ProbeResult`` comes back, and ``credentials_ok`` says:
  ``True``  an authenticated request with the configured credentials succeeded;
  ``False`` the registry (or its token service) refused them: **do not treat
  such a result as verified**;
  ``None``  no credentials were configured, or the registry never asks for any
  (then the ones given were not checked, and ``message`` says so).
  Wrong credentials are therefore reported, never raised as ``AuthFailed``.
- ``catalog_readable`` is whether the listing the adapter uses can be read with
  this configuration (``None`` when unknown, e.g. after refused credentials).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from . import errors
from .artifactory import ArtifactoryClient, is_artifactory
from .base import RegistryAdapter
from .challenge import ChallengeSyntaxError, parse_challenges
from .dockerhub import DockerHubClient, is_docker_hub
from .harbor import HarborClient
from .transport import Transport
from .types import ApiVersion, AuthScheme, ClientConfig, Flavour, ProbeResult
from .v1 import V1Client
from .v2 import CATALOG_SCOPE, V2Client

# Anonymous looks must see every answer instead of raising on it.
_ANY_ERROR_STATUS = range(400, 600)
# What a refused or impossible listing looks like, as opposed to a broken network.
_NO_ACCESS = (
    errors.AuthFailed,
    errors.Forbidden,
    errors.NotFound,
    errors.NotSupported,
    errors.RequestRejected,
)
_FLAVOUR_NAMES = {
    Flavour.DISTRIBUTION: "Distribution registry",
    Flavour.HARBOR: "Harbor",
    Flavour.ARTIFACTORY: "JFrog Artifactory",
    Flavour.DOCKER_HUB: "Docker Hub",
    Flavour.UNKNOWN: "Registry",
}


def _auth_scheme(response: requests.Response) -> AuthScheme:
    """Return the scheme a 401 challenges with (Bearer wins over Basic)."""
    if response.status_code != 401:
        return AuthScheme.NONE
    try:
        schemes = {
            c.scheme
            for c in parse_challenges(response.headers.get("WWW-Authenticate", ""))
        }
    except ChallengeSyntaxError:
        return AuthScheme.NONE
    if "bearer" in schemes:
        return AuthScheme.BEARER
    if "basic" in schemes:
        return AuthScheme.BASIC
    return AuthScheme.NONE


def _looks_like_v2(response: requests.Response) -> bool:
    """Tell whether an answer at ``/v2/`` comes from a V2 registry.

    The version header alone is not trusted; an open registry answers ``{}``,
    a closed one a challenge with a JSON ``errors`` body.
    """
    version = response.headers.get("Docker-Distribution-Api-Version", "")
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 200:
        return body == {} or version.lower().startswith("registry/2")
    if response.status_code == 401 and _auth_scheme(response) is not AuthScheme.NONE:
        has_errors = isinstance(body, dict) and "errors" in body
        return has_errors or version.lower().startswith("registry/2")
    return False


def _looks_like_v1(response: requests.Response) -> bool:
    """Tell whether an answer at ``/v1/_ping`` comes from a V1 registry."""
    if any(name.lower().startswith("x-docker-registry-") for name in response.headers):
        return True
    if response.status_code == 401:
        return _auth_scheme(response) is not AuthScheme.NONE
    try:
        response.json()
    except ValueError:
        return False  # a web page, not the JSON ``true`` of a V1 ping
    return response.status_code == 200


@dataclass
class _Access:
    """The outcome of one authenticated request."""

    credentials_ok: bool | None
    reachable: bool
    note: str = ""


def _check_access(request, has_credentials: bool) -> _Access:
    """Run ``request()`` (authenticated) and tell what it says about access."""
    try:
        request()
    except errors.AuthFailed as exc:
        if has_credentials:
            return _Access(False, False, f"credentials refused ({exc.message})")
        return _Access(None, False, "anonymous access refused; credentials needed")
    return _Access(True if has_credentials else None, True)


def _can_read(read) -> bool:
    """Run ``read()``; tell whether it worked or access was refused."""
    try:
        read()
    except _NO_ACCESS:
        return False
    return True


def _summary(
    api_version: ApiVersion,
    flavour: Flavour,
    auth_scheme: AuthScheme,
    access: _Access,
    has_credentials: bool,
    extra: list[str],
) -> str:
    parts = [f"{_FLAVOUR_NAMES[flavour]} ({api_version.value.upper()} API)"]
    parts.append(
        "no authentication"
        if auth_scheme is AuthScheme.NONE
        else f"{auth_scheme.value.capitalize()} authentication"
    )
    if access.note:
        parts.append(access.note)
    elif access.credentials_ok:
        parts.append("credentials accepted")
    elif has_credentials and auth_scheme is AuthScheme.NONE:
        parts.append("it does not ask for credentials; the ones given were not checked")
    parts.extend(extra)
    return "; ".join(parts) + "."


def probe(
    config: ClientConfig, *, dockerhub_urls: Mapping[str, str] | None = None
) -> ProbeResult:
    """Identify the registry at ``config.base_url`` and check the credentials.

    ``dockerhub_urls`` overrides Docker Hub's service URLs (keyword arguments
    of :class:`DockerHubClient`); Docker Hub is still recognised by host name.
    See the module docstring for the full contract.
    """
    has_credentials = bool(config.username or config.password)
    host = urlsplit(config.base_url).hostname or ""
    if is_docker_hub(host):
        return _probe_docker_hub(config, dict(dockerhub_urls or {}), has_credentials)
    with Transport(config) as transport:
        root = transport.request(
            "GET", "/v2/", auth=False, allow_status=_ANY_ERROR_STATUS
        )
        if root.status_code == 429 or root.status_code >= 500:
            # Busy or failing is not "not a registry": say which, so that
            # callers can wait (Retry-After) or try again.
            transport.raise_for_status(root, ())
        if is_artifactory(root.headers):
            return _probe_artifactory(config, transport, has_credentials)
        if _looks_like_v2(root):
            return _probe_v2(config, transport, root, has_credentials)
        # Some set-ups have no /v2/ ping but answer the catalog.
        catalog = transport.request(
            "GET",
            "/v2/_catalog",
            params={"n": 1},
            auth=False,
            allow_status=_ANY_ERROR_STATUS,
        )
        if is_artifactory(catalog.headers):
            return _probe_artifactory(config, transport, has_credentials)
        v1 = transport.request(
            "GET", "/v1/_ping", auth=False, allow_status=_ANY_ERROR_STATUS
        )
        if _looks_like_v1(v1):
            return _probe_v1(config, v1, has_credentials)
    raise errors.NotARegistry(
        f"{config.base_url} answered, but not like a container registry "
        f"(HTTP {root.status_code} at /v2/, HTTP {v1.status_code} at /v1/_ping).",
        url=config.base_url,
    )


def _probe_v2(
    config: ClientConfig,
    transport: Transport,
    root: requests.Response,
    has_credentials: bool,
) -> ProbeResult:
    auth_scheme = _auth_scheme(root)
    harbor = HarborClient(config)
    flavour = Flavour.HARBOR if harbor.ping() else Flavour.DISTRIBUTION
    extra = []
    if flavour is Flavour.HARBOR:
        try:
            version = harbor.system_info().get("harbor_version")
        except errors.RegistryError:
            version = None
        if isinstance(version, str) and version:
            extra.append(f"version {version}")
    if auth_scheme is AuthScheme.NONE or (
        flavour is Flavour.HARBOR and not has_credentials
    ):
        # Harbor's API serves public projects to anonymous users even though
        # its /v2/ wants a login.
        access = _Access(None, True)
    else:
        # An authenticated request, not just the anonymous challenge: wrong
        # credentials must fail here (a Basic retry or a token request).
        access = _check_access(
            lambda: transport.request("GET", "/v2/"), has_credentials
        )
    catalog_readable = None
    if access.reachable and flavour is Flavour.HARBOR:
        # The adapter lists through projects, not the admin-only catalog.
        catalog_readable = _can_read(lambda: next(harbor.list_repositories(), None))
        extra.append("repositories are listed through Harbor's projects")
    elif access.reachable:
        catalog_readable = _can_read(
            lambda: transport.request(
                "GET", "/v2/_catalog", params={"n": 1}, scope=(CATALOG_SCOPE,)
            )
        )
        extra.append("catalog readable" if catalog_readable else "catalog not readable")
    elif access.credentials_ok is None:
        catalog_readable = False
    return ProbeResult(
        api_version=ApiVersion.V2,
        flavour=flavour,
        auth_scheme=auth_scheme,
        credentials_ok=access.credentials_ok,
        catalog_readable=catalog_readable,
        message=_summary(
            ApiVersion.V2, flavour, auth_scheme, access, has_credentials, extra
        ),
    )


def _probe_artifactory(
    config: ClientConfig, transport: Transport, has_credentials: bool
) -> ProbeResult:
    client = ArtifactoryClient(config)
    keys: list[str] = []
    extra: list[str] = []
    # Anonymous looks go through the probe's transport, by absolute URL.
    rest = transport.request(
        "GET",
        client.transport.url("/artifactory/api/repositories"),
        params={"packageType": "docker"},
        auth=False,
        allow_status=_ANY_ERROR_STATUS,
    )
    auth_scheme = _auth_scheme(rest)
    # The REST API refuses wrong credentials even where anonymous reads work.
    access = _check_access(
        lambda: keys.extend(client.repository_keys()), has_credentials
    )
    catalog_readable = None if access.credentials_ok is False else False
    if access.reachable and not keys:
        extra.append("no Docker repositories visible")
    elif access.reachable:
        catalog = client.transport.url(f"{client.v2(keys[0]).prefix_path}/v2/_catalog")
        look = transport.request(
            "GET",
            catalog,
            params={"n": 1},
            auth=False,
            allow_status=_ANY_ERROR_STATUS,
        )
        # The Docker API's own challenge says how images are pulled.
        if look.status_code == 401:
            auth_scheme = _auth_scheme(look)
        catalog_readable = _can_read(
            lambda: client.transport.request(
                "GET", catalog, params={"n": 1}, scope=(CATALOG_SCOPE,)
            )
        )
        shown = ", ".join(keys[:5]) + (", ..." if len(keys) > 5 else "")
        extra.append(f"Docker repositories: {shown}")
        extra.append("catalog readable" if catalog_readable else "catalog not readable")
    return ProbeResult(
        api_version=ApiVersion.V2,
        flavour=Flavour.ARTIFACTORY,
        auth_scheme=auth_scheme,
        credentials_ok=access.credentials_ok,
        catalog_readable=catalog_readable,
        message=_summary(
            ApiVersion.V2,
            Flavour.ARTIFACTORY,
            auth_scheme,
            access,
            has_credentials,
            extra,
        ),
    )


def _probe_docker_hub(
    config: ClientConfig, urls: dict[str, str], has_credentials: bool
) -> ProbeResult:
    client = DockerHubClient(config, **urls)
    credentials_ok = client.check_credentials()
    if credentials_ok is False:
        access = _Access(
            False, False, "credentials refused by Docker Hub's token service"
        )
    else:
        # Reaching /v2/ needs a token from the token service, with credentials
        # when there are some.
        access = _check_access(client.registry.ping, has_credentials)
    extra = ["no catalog; searched live"]
    if access.reachable:
        # Any query shows that the search the adapter depends on answers.
        client.search("library", limit=1)
    return ProbeResult(
        api_version=ApiVersion.V2,
        flavour=Flavour.DOCKER_HUB,
        auth_scheme=AuthScheme.BEARER,
        credentials_ok=access.credentials_ok,
        catalog_readable=False,
        message=_summary(
            ApiVersion.V2,
            Flavour.DOCKER_HUB,
            AuthScheme.BEARER,
            access,
            has_credentials,
            extra,
        ),
    )


def _probe_v1(
    config: ClientConfig, ping: requests.Response, has_credentials: bool
) -> ProbeResult:
    auth_scheme = _auth_scheme(ping)
    client = V1Client(config)
    if auth_scheme is AuthScheme.NONE:
        access = _Access(None, True)
    else:
        access = _check_access(client.ping, has_credentials)
    standalone = ping.headers.get("X-Docker-Registry-Standalone", "").lower()
    extra = ["legacy API: repositories are found through search"]
    if standalone in ("true", "1"):
        extra.insert(0, "standalone")
    return ProbeResult(
        api_version=ApiVersion.V1,
        flavour=Flavour.UNKNOWN,
        auth_scheme=auth_scheme,
        credentials_ok=access.credentials_ok,
        catalog_readable=None,
        message=_summary(
            ApiVersion.V1, Flavour.UNKNOWN, auth_scheme, access, has_credentials, extra
        ),
    )


def adapter_for(
    config: ClientConfig,
    flavour: Flavour | str,
    api_version: ApiVersion | str,
    *,
    dockerhub_urls: Mapping[str, str] | None = None,
) -> RegistryAdapter:
    """Return the adapter for a registry of ``flavour`` speaking ``api_version``."""
    if ApiVersion(api_version) is ApiVersion.V1:
        return V1Client(config)
    match Flavour(flavour):
        case Flavour.DOCKER_HUB:
            return DockerHubClient(config, **dict(dockerhub_urls or {}))
        case Flavour.HARBOR:
            return HarborClient(config)
        case Flavour.ARTIFACTORY:
            return ArtifactoryClient(config)
        case _:
            return V2Client(config)

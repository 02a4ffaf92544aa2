"""HTTP for every registry client: trust, limits, redirects, auth and typed errors.

One :class:`Transport` wraps one ``requests.Session`` for one registry
(``ClientConfig.base_url``). It is not thread-safe: use one per thread or task.

Public API (the V1, Docker Hub, Harbor and Artifactory adapters build on it)::

    t = Transport(config)
    t.request(method, url, *, params=None, headers=None, scope=(), allow_status=(),
              stream=False, auth=True) -> requests.Response
    t.get_json(url, **request_kwargs) -> (data, response)
    t.iter_link_pages(url, params=None, *, max_pages=10_000, **request_kwargs)
        -> Iterator[(data, response)]
    t.url(path) -> str          # absolute URL of a path below base_url
    t.close()                   # also: with Transport(config) as t: ...

``request``:

- ``url`` is absolute, or relative to ``base_url`` (appended to its path, so
  ``"/v2/"`` under ``https://h/artifactory/api/docker/k`` stays below the prefix).
- Applies ``(connect_timeout, read_timeout)``, reads the body incrementally and
  raises ``ProtocolError`` past ``max_body_bytes`` (unless ``stream=True``: then
  the caller reads ``response.raw``/``iter_content`` and must close it).
- Refuses ``http://`` unless ``allow_plain_http`` (``PlainHTTPNotAllowed``),
  also for redirects and token realms.
- Trust: system CAs plus ``ca_pem``; with ``pinned_sha256`` the registry host is
  accepted by that exact leaf certificate only. Handshake failures raise
  ``TLSUntrusted`` / ``TLSHostnameMismatch`` / ``TLSExpired`` (or ``TLSError``)
  carrying ``certificate``, the server's leaf fetched separately without
  verification, so the UI can offer to trust it.
- Network failures raise ``Unreachable`` / ``Timeout``. Statuses not in
  ``allow_status`` raise: 401 ``AuthFailed``, 403 ``Forbidden``, 404
  ``NotFound``, 405 ``NotSupported``, 429 ``RateLimited`` (``retry_after`` in
  seconds), 5xx ``ServerError``, any other 4xx ``RequestRejected``; the message
  includes the registry's error body (``{"errors": [...]}`` or plain text).
- Auth (``auth=True``): a 401 with a ``Basic`` challenge is retried with the
  configured credentials; a ``Bearer`` challenge makes it fetch a token from the
  realm for ``scope`` plus the challenge's scopes (OAuth2 ``POST`` first when
  credentials exist, ``GET`` otherwise or when the realm answers 400/404/405),
  cached per (realm, service, scopes) until shortly before ``expires_in``.
  Once a registry has challenged, later requests authenticate up front.
  ``Authorization`` only ever goes to the registry's origin (scheme, host, port)
  and the token realm's origin; redirects (followed here, at most 5) to any
  other origin are sent without it. Secret headers passed in ``headers``
  (Authorization, Cookie, X-JFrog-Art-Api) likewise stay on the origin of
  ``url``.

``iter_link_pages`` yields one parsed JSON page at a time and follows RFC 8288
``Link: <...>; rel="next"`` resolved against the URL that answered; a next URL
seen before, or more than ``max_pages`` pages, raise ``ProtocolError``.
"""

from __future__ import annotations

import base64
import json
import ssl
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, NoReturn
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from . import errors
from .challenge import Challenge, ChallengeSyntaxError, find_challenge, parse_challenges
from .tls import (
    fetch_certificate,
    normalise_fingerprint,
    pinning_context,
    verifying_context,
)
from .types import ClientConfig

MAX_REDIRECTS = 5
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
# Token lifetime below which we refetch rather than risk a token expiring in flight.
_MIN_TOKEN_LIFETIME = 60
_MAX_CACHED_TOKENS = 64
# Never forwarded to another origin, whoever set them.
_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-jfrog-art-api"}
)
_X509_EXPIRED = 10
_X509_NOT_YET_VALID = 9
_X509_HOSTNAME_MISMATCH = 62
_X509_IP_ADDRESS_MISMATCH = 64

Origin = tuple[str, str, int]


def origin_of(url: str) -> Origin:
    """Return (scheme, lower-case host, port) with default ports filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port


def parse_link_header(value: str) -> list[tuple[str, dict[str, str]]]:
    """Parse an RFC 8288 ``Link`` header into (target, params) pairs."""
    links = []
    pos, end = 0, len(value)
    while pos < end:
        start = value.find("<", pos)
        if start < 0:
            break
        close = value.find(">", start)
        if close < 0:
            raise ValueError(f"unterminated <...> in Link header {value!r}")
        target = value[start + 1 : close].strip()
        pos = close + 1
        params: dict[str, str] = {}
        while pos < end:
            while pos < end and value[pos] in " \t":
                pos += 1
            if pos >= end:
                break
            if value[pos] == ",":
                pos += 1
                break
            if value[pos] != ";":
                raise ValueError(f"expected ';' in Link header {value!r}")
            pos += 1
            name_start = pos
            while pos < end and value[pos] not in "=;,":
                pos += 1
            name = value[name_start:pos].strip().lower()
            param_value = ""
            if pos < end and value[pos] == "=":
                pos += 1
                while pos < end and value[pos] in " \t":
                    pos += 1
                if pos < end and value[pos] == '"':
                    pos += 1
                    chars = []
                    while pos < end and value[pos] != '"':
                        if value[pos] == "\\" and pos + 1 < end:
                            pos += 1
                        chars.append(value[pos])
                        pos += 1
                    pos += 1
                    param_value = "".join(chars)
                else:
                    value_start = pos
                    while pos < end and value[pos] not in ";,":
                        pos += 1
                    param_value = value[value_start:pos].strip()
            if name:
                params.setdefault(name, param_value)
        links.append((target, params))
    return links


def next_link(response: requests.Response) -> str | None:
    """Return the absolute ``rel="next"`` URL of ``response``, if any."""
    header = response.headers.get("Link")
    if not header:
        return None
    try:
        links = parse_link_header(header)
    except ValueError as exc:
        raise errors.ProtocolError(str(exc), url=response.url) from exc
    for target, params in links:
        if "next" in params.get("rel", "").lower().split():
            return urljoin(response.url, target)
    return None


def retry_after_seconds(value: str | None) -> float | None:
    """Turn a ``Retry-After`` value (seconds or an HTTP date) into seconds."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_message(response: requests.Response) -> str:
    """Summarise a registry error body (``{"errors": [...]}`` or plain text)."""
    text = ""
    try:
        text = response.text
    except (RuntimeError, requests.RequestException):
        pass  # a streamed body that was never read
    parts = []
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("errors"), list):
        for item in data["errors"]:
            if not isinstance(item, dict):
                continue
            code = item.get("code") or item.get("status") or ""
            message = item.get("message") or ""
            part = ": ".join(str(p) for p in (code, message) if p)
            detail = item.get("detail")
            if isinstance(detail, str | int | float) and str(detail):
                part += f" ({detail})"
            elif detail:
                part += f" ({json.dumps(detail, sort_keys=True)[:200]})"
            if part:
                parts.append(part)
    elif isinstance(data, dict) and isinstance(data.get("message"), str):
        parts.append(data["message"])
    elif text.strip():
        first_line = " ".join(text.strip().split())
        parts.append(first_line[:200])
    return "; ".join(parts)


@dataclass
class _Token:
    value: str
    expires_at: float  # time.monotonic()


class _TrustAdapter(HTTPAdapter):
    """Verify with our own contexts; pin one origin to one leaf certificate."""

    def __init__(self, context: ssl.SSLContext, pins: dict[Origin, str]) -> None:
        self._context = context
        self._pin_context = pinning_context()
        self._pins = pins
        super().__init__(max_retries=0)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        pool_kwargs.pop("ca_certs", None)
        pool_kwargs.pop("ca_cert_dir", None)
        pin = self._pins.get(origin_of(request.url))
        if pin:
            pool_kwargs.update(
                ssl_context=self._pin_context,
                cert_reqs="CERT_NONE",
                assert_fingerprint=pin,
            )
        else:
            pool_kwargs.update(ssl_context=self._context, cert_reqs="CERT_REQUIRED")
        return host_params, pool_kwargs

    def cert_verify(self, conn, url, verify, cert):
        """Leave trust to the pool's context (requests would add its own CAs)."""


def _find_in_chain(exc: BaseException, kind: type) -> BaseException | None:
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, kind):
            return item
        for nxt in (item.__cause__, item.__context__, getattr(item, "reason", None)):
            if isinstance(nxt, BaseException):
                todo.append(nxt)
        todo.extend(arg for arg in item.args if isinstance(arg, BaseException))
    return None


class Transport:
    """Send requests to one registry; see the module docstring for the contract."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self.base_url = config.base_url.rstrip("/")
        self.origin = origin_of(self.base_url)
        # Configuration problems surface on the first request, like every other
        # failure, so callers handle errors in one place.
        self._config_error: errors.RegistryError | None = None
        if not urlsplit(self.base_url).hostname:
            self._config_error = errors.ProtocolError(
                f"{config.base_url!r} is not a registry address."
            )
        try:
            context = verifying_context(config.ca_pem)
        except ValueError as exc:
            self._config_error = errors.TLSError(str(exc))
            context = verifying_context()
        pins = {}
        if config.pinned_sha256:
            pins[self.origin] = normalise_fingerprint(config.pinned_sha256)
        self.session = requests.Session()
        # No ~/.netrc credentials, REQUESTS_CA_BUNDLE or proxy surprises: every
        # input comes from the config.
        self.session.trust_env = False
        self.session.mount("https://", _TrustAdapter(context, pins))
        self.session.mount("http://", HTTPAdapter(max_retries=0))
        self._challenge: Challenge | None = None
        self._tokens: dict[tuple[str, str, frozenset[str]], _Token] = {}
        self._realms_without_post: set[str] = set()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    # -- URLs -------------------------------------------------------------------

    def url(self, path: str) -> str:
        """Return ``path`` as an absolute URL below ``base_url``; keep absolute URLs."""
        if urlsplit(path).scheme:
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def _check_scheme(self, url: str, what: str = "The registry") -> None:
        scheme = urlsplit(url).scheme.lower()
        if scheme == "https":
            return
        if scheme == "http":
            if self.config.allow_plain_http:
                return
            raise errors.PlainHTTPNotAllowed(
                f"{what} address {url} uses plain HTTP, which this registry entry "
                "does not allow.",
                url=url,
            )
        raise errors.ProtocolError(f"Unsupported address {url!r}.", url=url)

    @staticmethod
    def _with_params(url: str, params: Any) -> str:
        if not params:
            return url
        parts = urlsplit(url)
        extra = urlencode(params, doseq=True)
        query = f"{parts.query}&{extra}" if parts.query else extra
        return urlunsplit(parts._replace(query=query))

    # -- public API -------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Any = None,
        headers: dict[str, str] | None = None,
        scope: Iterable[str] = (),
        allow_status: Iterable[int] = (),
        stream: bool = False,
        auth: bool = True,
    ) -> requests.Response:
        """Send one request with auth, redirects and limits; raise typed errors."""
        if self._config_error is not None:
            raise self._config_error
        target = self._with_params(self.url(url), params)
        allow = tuple(allow_status)
        base_headers = {"User-Agent": self.config.user_agent, **(headers or {})}
        response = self._authorized(
            method.upper(), target, base_headers, tuple(scope), auth, stream, allow
        )
        self.raise_for_status(response, allow)
        return response

    def get_json(self, url: str, **kwargs: Any) -> tuple[Any, requests.Response]:
        """GET ``url`` and return its parsed JSON body and the response."""
        response = self.request("GET", url, **kwargs)
        try:
            return response.json(), response
        except ValueError as exc:
            raise errors.ProtocolError(
                f"{response.url} answered with something that is not JSON.",
                url=response.url,
                status=response.status_code,
            ) from exc

    def iter_link_pages(
        self, url: str, params: Any = None, *, max_pages: int = 10_000, **kwargs: Any
    ) -> Iterator[tuple[Any, requests.Response]]:
        """Yield (data, response) per page, following ``Link: rel="next"``."""
        target: str | None = self._with_params(self.url(url), params)
        seen: set[str] = set()
        for _ in range(max_pages):
            assert target is not None
            if target in seen:
                raise errors.ProtocolError(
                    f"The registry's pagination loops back to {target}.", url=target
                )
            seen.add(target)
            data, response = self.get_json(target, **kwargs)
            yield data, response
            target = next_link(response)
            if target is None:
                return
        raise errors.ProtocolError(
            f"Gave up after {max_pages} pages from {self.url(url)}.", url=url
        )

    # -- auth -------------------------------------------------------------------

    def _basic_header(self) -> str:
        pair = f"{self.config.username}:{self.config.password}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    @property
    def _has_credentials(self) -> bool:
        return bool(self.config.username or self.config.password)

    def _who(self) -> str:
        return (
            f"user {self.config.username!r}" if self._has_credentials else "anonymous"
        )

    def _upfront_authorization(
        self, scopes: tuple[str, ...]
    ) -> tuple[str | None, bool]:
        """Return (Authorization, was it freshly fetched) for a known challenge."""
        challenge = self._challenge
        if challenge is None:
            return None, False
        if challenge.scheme == "basic":
            return (self._basic_header() if self._has_credentials else None), False
        token, fresh = self._token(challenge.realm, challenge.service, scopes)
        return f"Bearer {token}", fresh

    def _authorized(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        scopes: tuple[str, ...],
        use_auth: bool,
        stream: bool,
        allow: tuple[int, ...],
    ) -> requests.Response:
        own_origin = origin_of(url) == self.origin
        use_auth = use_auth and own_origin
        authz, fresh = (
            self._upfront_authorization(scopes) if use_auth else (None, False)
        )
        invalid_token_retried = False
        for _ in range(4):
            response = self._send(
                method, url, headers, authz, stream=stream, auth_origin=self.origin
            )
            if (
                response.status_code != 401
                or not use_auth
                or 401 in allow
                # A 401 from where a redirect led (blob storage) is not a
                # challenge to answer with our credentials.
                or origin_of(response.url) != self.origin
            ):
                return response
            challenges = self._challenges(response)
            bearer = find_challenge(challenges, "bearer")
            basic = find_challenge(challenges, "basic")
            if bearer is not None and bearer.realm:
                self._challenge = bearer
                wanted = tuple(dict.fromkeys(scopes + bearer.scopes))
                sent_token = authz is not None and authz.startswith("Bearer ")
                if sent_token and bearer.error == "invalid_token":
                    if invalid_token_retried:
                        break
                    invalid_token_retried = True
                    self._forget_token(bearer.realm, bearer.service, wanted)
                elif sent_token and fresh and set(wanted) <= set(scopes):
                    response.close()
                    raise self._insufficient_scope(wanted, url, response)
                elif sent_token:
                    # A cached token the registry no longer accepts.
                    self._forget_token(bearer.realm, bearer.service, wanted)
                token, fresh = self._token(bearer.realm, bearer.service, wanted)
                authz, scopes = f"Bearer {token}", wanted
                response.close()
                continue
            if basic is not None:
                self._challenge = basic
                if not self._has_credentials:
                    response.close()
                    raise errors.AuthFailed(
                        "The registry requires a user name and password.",
                        status=401,
                        url=url,
                    )
                if authz is not None and authz.startswith("Basic "):
                    break
                authz = self._basic_header()
                response.close()
                continue
            break
        self._raise_auth_failed(response, url)

    def _challenges(self, response: requests.Response) -> list[Challenge]:
        # requests' headers are case-insensitive; several header lines are
        # joined with ", ", which the parser reads as a list of challenges.
        header = response.headers.get("WWW-Authenticate", "")
        try:
            return parse_challenges(header)
        except ChallengeSyntaxError as exc:
            raise errors.ProtocolError(
                f"Unreadable WWW-Authenticate header from {response.url}: {exc}",
                url=response.url,
                status=401,
            ) from exc

    def _raise_auth_failed(self, response: requests.Response, url: str) -> NoReturn:
        detail = error_message(response)
        if self._has_credentials:
            message = f"The registry rejected the credentials of {self._who()}."
        else:
            message = "The registry requires authentication."
        if detail:
            message += f" ({detail})"
        raise errors.AuthFailed(message, status=401, url=url)

    def _insufficient_scope(
        self, scopes: tuple[str, ...], url: str, response: requests.Response
    ) -> errors.RegistryError:
        asked = ", ".join(scopes) or "this request"
        if self._has_credentials:
            return errors.Forbidden(
                f"The token service authenticated {self._who()} but granted no "
                f"access to {asked}.",
                status=401,
                url=url,
            )
        return errors.AuthFailed(
            f"The token service grants anonymous users no access to {asked}; "
            "credentials are needed.",
            status=401,
            url=url,
        )

    def _forget_token(self, realm: str, service: str, scopes: tuple[str, ...]) -> None:
        # Also forget the wider tokens that the lookup would fall back to.
        wanted = frozenset(scopes)
        for key in [k for k in self._tokens if k[:2] == (realm, service)]:
            if key[2] >= wanted:
                del self._tokens[key]

    def _token(
        self, realm: str, service: str, scopes: tuple[str, ...]
    ) -> tuple[str, bool]:
        """Return (token, freshly fetched) for ``scopes``, from cache when valid."""
        key = (realm, service, frozenset(scopes))
        now = time.monotonic()
        cached = self._tokens.get(key)
        if cached is not None and cached.expires_at > now:
            return cached.value, False
        # A token granted for more scopes serves a request that needs fewer.
        for (c_realm, c_service, c_scopes), token in self._tokens.items():
            if (c_realm, c_service) == (realm, service) and c_scopes >= key[2]:
                if token.expires_at > now:
                    return token.value, False
        try:
            token, lifetime = self._fetch_token(realm, service, scopes)
        except errors.RegistryError as exc:
            host = urlsplit(realm).netloc or realm
            exc.message = f"Token service {host}: {exc.message}"
            exc.args = (exc.message,)
            raise
        margin = min(30.0, lifetime / 4)
        now = time.monotonic()
        self._tokens = {k: t for k, t in self._tokens.items() if t.expires_at > now}
        while len(self._tokens) >= _MAX_CACHED_TOKENS:
            # A crawl asks for one scope per repository: keep the cache bounded.
            self._tokens.pop(next(iter(self._tokens)))
        self._tokens[key] = _Token(token, now + lifetime - margin)
        return token, True

    def _fetch_token(
        self, realm: str, service: str, scopes: tuple[str, ...]
    ) -> tuple[str, float]:
        self._check_scheme(realm, "The token service")
        headers = {"User-Agent": self.config.user_agent, "Accept": "application/json"}
        realm_origin = origin_of(realm)
        response = None
        if self._has_credentials and realm not in self._realms_without_post:
            form = {
                "grant_type": "password",
                "username": self.config.username,
                "password": self.config.password,
                "client_id": "portolan",
                "scope": " ".join(scopes),
            }
            if service:
                form["service"] = service
            response = self._send(
                "POST", realm, headers, None, data=form, auth_origin=realm_origin
            )
            if response.status_code in (400, 404, 405):
                self._realms_without_post.add(realm)
                response = None
        if response is None:
            query = ([("service", service)] if service else []) + [
                ("scope", s) for s in scopes
            ]
            authz = self._basic_header() if self._has_credentials else None
            response = self._send(
                "GET",
                self._with_params(realm, query),
                headers,
                authz,
                auth_origin=realm_origin,
            )
        if response.status_code == 401:
            who = self._who()
            raise errors.AuthFailed(
                f"the credentials of {who} were rejected."
                if self._has_credentials
                else "anonymous access was refused; credentials are needed.",
                status=401,
                url=realm,
            )
        self.raise_for_status(response, ())
        if response.status_code != 200:
            raise errors.ProtocolError(
                f"unexpected HTTP {response.status_code} from {realm}.",
                status=response.status_code,
                url=realm,
            )
        try:
            data = response.json()
        except ValueError as exc:
            raise errors.ProtocolError(
                f"{realm} did not answer JSON.", url=realm
            ) from exc
        token = ""
        if isinstance(data, dict):
            token = data.get("access_token") or data.get("token") or ""
        if not isinstance(token, str) or not token:
            raise errors.ProtocolError(f"{realm} answered without a token.", url=realm)
        try:
            lifetime = float(data.get("expires_in") or _MIN_TOKEN_LIFETIME)
        except (TypeError, ValueError):
            lifetime = _MIN_TOKEN_LIFETIME
        return token, max(lifetime, _MIN_TOKEN_LIFETIME)

    # -- one request, its redirects and its body -----------------------------------

    def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        authorization: str | None,
        *,
        auth_origin: Origin,
        stream: bool = False,
        data: Any = None,
    ) -> requests.Response:
        """Send, following redirects; Authorization stays on ``auth_origin``.

        Secrets the caller put in ``headers`` stay on the origin of ``url``.
        """
        first_origin = origin_of(url)
        for _ in range(MAX_REDIRECTS + 1):
            self._check_scheme(url)
            hop_origin = origin_of(url)
            hop_headers = {
                name: value
                for name, value in headers.items()
                if hop_origin == first_origin or name.lower() not in _SECRET_HEADERS
            }
            if authorization and hop_origin == auth_origin:
                hop_headers["Authorization"] = authorization
            try:
                response = self.session.request(
                    method,
                    url,
                    headers=hop_headers,
                    data=data,
                    allow_redirects=False,
                    stream=True,
                    timeout=(self.config.connect_timeout, self.config.read_timeout),
                )
            except requests.RequestException as exc:
                raise self._network_error(exc, url) from exc
            status = response.status_code
            if not stream or status >= 300:
                # Error and redirect bodies are small; reading them (bounded)
                # keeps the connection reusable and gives error details.
                self._read_body(response, method)
            location = response.headers.get("Location")
            if status in _REDIRECT_STATUSES and location:
                url = urljoin(response.url, location)
                if response.status_code == 303 or (
                    response.status_code in (301, 302) and method == "POST"
                ):
                    method, data = "GET", None
                if data is not None and origin_of(url) != first_origin:
                    # A 307/308 would replay the body (a token request's
                    # password) to another host: never follow it there.
                    response.close()
                    raise errors.ProtocolError(
                        f"{response.url} redirected a request that carries"
                        f" credentials to another host ({url}); not followed.",
                        url=response.url,
                        status=status,
                    )
                continue
            return response
        raise errors.ProtocolError(
            f"More than {MAX_REDIRECTS} redirects, last to {url}.", url=url
        )

    def _read_body(self, response: requests.Response, method: str) -> None:
        limit = self.config.max_body_bytes
        too_large = errors.ProtocolError(
            f"The answer from {response.url} is larger than {limit} bytes.",
            url=response.url,
            status=response.status_code,
        )
        declared = response.headers.get("Content-Length", "")
        # A HEAD declares the size of what a GET would send; it has no body, but
        # must still be read to the end for the connection to be reused.
        if method != "HEAD" and declared.isdigit() and int(declared) > limit:
            response.close()
            raise too_large
        body = bytearray()
        try:
            for chunk in response.iter_content(_CHUNK):
                body += chunk
                if len(body) > limit:
                    response.close()
                    raise too_large
        except requests.RequestException as exc:
            response.close()
            raise self._network_error(exc, response.url) from exc
        except urllib3.exceptions.HTTPError as exc:
            response.close()
            raise self._network_error(exc, response.url) from exc
        response._content = bytes(body)
        response._content_consumed = True
        response.close()

    def _network_error(self, exc: BaseException, url: str) -> errors.RegistryError:
        host = urlsplit(url).netloc
        if isinstance(exc, requests.exceptions.SSLError):
            return self._tls_error(exc, url)
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return errors.Timeout(
                f"Connecting to {host} took longer than "
                f"{self.config.connect_timeout:g} s.",
                url=url,
            )
        timeout = _find_in_chain(exc, urllib3.exceptions.ReadTimeoutError)
        if isinstance(exc, requests.exceptions.ReadTimeout) or timeout is not None:
            return errors.Timeout(
                f"{host} sent nothing for {self.config.read_timeout:g} s.", url=url
            )
        if isinstance(
            exc, requests.exceptions.InvalidURL | requests.exceptions.InvalidSchema
        ):
            return errors.ProtocolError(f"Invalid address {url}: {exc}", url=url)
        if _find_in_chain(exc, urllib3.exceptions.NameResolutionError) is not None:
            return errors.Unreachable(
                f"The host name of {host} does not resolve.", url=url
            )
        refused = _find_in_chain(exc, ConnectionRefusedError)
        if refused is not None:
            return errors.Unreachable(f"{host} refused the connection.", url=url)
        if isinstance(
            exc,
            requests.exceptions.ChunkedEncodingError | urllib3.exceptions.ProtocolError,
        ):
            return errors.Unreachable(
                f"The connection to {host} broke while reading the answer.", url=url
            )
        return errors.Unreachable(f"Could not connect to {host}: {exc}", url=url)

    def _tls_error(self, exc: BaseException, url: str) -> errors.TLSError:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or 443
        certificate = None
        try:
            certificate = fetch_certificate(
                host, port, timeout=self.config.connect_timeout
            )
        except (OSError, ValueError):
            pass  # nothing to show; the error still says what went wrong
        where = parts.netloc
        verify = _find_in_chain(exc, ssl.SSLCertVerificationError)
        if isinstance(verify, ssl.SSLCertVerificationError):
            code = verify.verify_code
            reason = verify.verify_message or str(verify)
            if code == _X509_EXPIRED:
                return errors.TLSExpired(
                    f"The certificate of {where} has expired.",
                    certificate=certificate,
                    url=url,
                )
            if code == _X509_NOT_YET_VALID:
                return errors.TLSExpired(
                    f"The certificate of {where} is not valid yet.",
                    certificate=certificate,
                    url=url,
                )
            if code in (_X509_HOSTNAME_MISMATCH, _X509_IP_ADDRESS_MISMATCH):
                return errors.TLSHostnameMismatch(
                    f"The certificate of {where} is not issued for {host}.",
                    certificate=certificate,
                    url=url,
                )
            return errors.TLSUntrusted(
                f"The certificate of {where} is not trusted ({reason}).",
                certificate=certificate,
                url=url,
            )
        if "Fingerprints did not match" in str(exc):
            return errors.TLSUntrusted(
                f"The certificate of {where} is not the pinned certificate.",
                certificate=certificate,
                url=url,
            )
        return errors.TLSError(
            f"The TLS handshake with {where} failed: {exc}",
            certificate=certificate,
            url=url,
        )

    # -- status -----------------------------------------------------------------

    def raise_for_status(
        self, response: requests.Response, allow: tuple[int, ...]
    ) -> None:
        """Raise the typed error for an error status not in ``allow``."""
        status = response.status_code
        if status < 400 or status in allow:
            return
        detail = error_message(response)
        where = f"HTTP {status} from {response.url}"
        message = f"{where}: {detail}" if detail else where
        kwargs = {"status": status, "url": response.url}
        if status == 401:
            raise errors.AuthFailed(message, **kwargs)
        if status == 403:
            raise errors.Forbidden(message, **kwargs)
        if status == 404:
            raise errors.NotFound(message, **kwargs)
        if status == 405:
            raise errors.NotSupported(message, **kwargs)
        if status == 429:
            raise errors.RateLimited(
                message,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
                **kwargs,
            )
        if status >= 500:
            raise errors.ServerError(message, **kwargs)
        raise errors.RequestRejected(message, **kwargs)

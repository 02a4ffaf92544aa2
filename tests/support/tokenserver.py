"""Small threaded HTTP(S) servers for tests: a registry token service and a stub.

:class:`TokenServer` implements the distribution token protocol: ``GET /token``
with optional Basic credentials and the OAuth2 ``POST /token`` password grant.
It answers with RS256 JWTs (``aud`` a string, signing certificate in ``x5c``)
granting the *intersection* of what was asked and what ``policy`` allows.

:class:`StubServer` answers every request with a function of the request and
records what it received, for faking misbehaving servers.
"""

from __future__ import annotations

import base64
import contextlib
import json
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt

from .certs import Leaf, TestCA

# policy(account, resource_type, name, requested_actions) -> granted actions
Policy = Callable[[str, str, str, list[str]], list[str]]


@dataclass
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return next(
            (v for k, v in self.headers.items() if k.lower() == name.lower()), None
        )


@dataclass
class Reply:
    """What a stub sends back, after ``delay`` seconds."""

    status: int = 200
    body: bytes | str | dict | list = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format, *args):  # noqa: A002 - silence the stdlib logger
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        received = Received(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=dict(self.headers.items()),
            body=body,
        )
        self.server.owner.received.append(received)
        reply = self.server.owner.respond(received)
        if reply.delay:
            time.sleep(reply.delay)
        payload = reply.body
        headers = dict(reply.headers)
        if isinstance(payload, dict | list):
            payload = json.dumps(payload).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(payload, str):
            payload = payload.encode()
        chunked = headers.get("Transfer-Encoding") == "chunked"
        self.send_response(reply.status)
        for name, value in headers.items():
            self.send_header(name, value)
        if "Content-Length" not in headers and not chunked:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if chunked:
            for start in range(0, len(payload), 4096):
                piece = payload[start : start + 4096]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(payload)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: _BaseServer


class _BaseServer:
    """Serve on a loopback port in a thread, optionally with TLS."""

    def __init__(self, *, host: str = "127.0.0.1", tls: Leaf | None = None) -> None:
        self.host = host
        self.tls = tls
        self.received: list[Received] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def respond(self, request: Received) -> Reply:
        raise NotImplementedError

    def start(self, workdir: Path | None = None):
        server = _Server((self.host, 0), _Handler)
        server.owner = self
        if self.tls is not None:
            import tempfile

            directory = Path(workdir or tempfile.mkdtemp(prefix="tls-"))
            cert, key = self.tls.write(directory, f"stub-{id(self)}")
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class StubServer(_BaseServer):
    """Answer each request with ``handler(request) -> Reply``."""

    def __init__(
        self,
        handler: Callable[[Received], Reply],
        *,
        host: str = "127.0.0.1",
        tls: Leaf | None = None,
    ) -> None:
        super().__init__(host=host, tls=tls)
        self.handler = handler

    def respond(self, request: Received) -> Reply:
        return self.handler(request)


def grant_all(account: str, type_: str, name: str, actions: list[str]) -> list[str]:
    """Grant authenticated users everything they ask for, anonymous users nothing."""
    return list(actions) if account else []


class TokenServer(_BaseServer):
    """A registry token service with users, a grant policy and RS256 JWTs."""

    def __init__(
        self,
        ca: TestCA,
        *,
        users: dict[str, str] | None = None,
        issuer: str = "portolan-test-issuer",
        service: str = "portolan-test-registry",
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(host=host, tls=ca.localhost())
        self.ca = ca
        self.users = users if users is not None else {"alice": "wonderland"}
        self.issuer = issuer
        self.service = service
        self.signing = ca.issue(
            common_name="Portolan test token signer", rsa_key=True, server=False
        )
        # Adjustable per test through configure(); reset afterwards.
        self.policy: Policy = grant_all
        self.expires_in = 300
        self.allow_post = True
        self.token_field = "both"  # "token", "access_token", "both" or "decoy"

    @property
    def realm(self) -> str:
        return f"{self.url}/token"

    @contextlib.contextmanager
    def configure(self, **settings) -> Iterator[TokenServer]:
        """Change policy, expires_in, allow_post or token_field for a block."""
        saved = {name: getattr(self, name) for name in settings}
        for name, value in settings.items():
            setattr(self, name, value)
        try:
            yield self
        finally:
            for name, value in saved.items():
                setattr(self, name, value)

    def issue_token(self, account: str, access: list[dict], *, ttl: int = 300) -> str:
        """Sign a registry token for ``account`` with exactly ``access``."""
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": account,
            "aud": self.service,
            "exp": now + ttl,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        x5c = base64.b64encode(self.signing.der).decode()
        return jwt.encode(
            claims,
            self.signing.key,
            algorithm="RS256",
            headers={"typ": "JWT", "x5c": [x5c]},
        )

    def _account(self, request: Received) -> str | None:
        """Return the account ("" for anonymous), or None for bad credentials."""
        if request.method == "POST":
            form = parse_qs(request.body.decode())
            if form.get("grant_type") != ["password"]:
                return None
            user = form.get("username", [""])[0]
            password = form.get("password", [""])[0]
        else:
            header = request.header("Authorization")
            if not header:
                return ""
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "basic":
                return None
            user, _, password = base64.b64decode(value).decode().partition(":")
        return user if self.users.get(user) == password and user else None

    @staticmethod
    def _parse_scope(scope: str) -> tuple[str, str, list[str]] | None:
        # The name may hold a registry host with a port: split type off the
        # front and actions off the back.
        type_, _, rest = scope.partition(":")
        name, _, actions = rest.rpartition(":")
        if not type_ or not name:
            return None
        return type_, name, [a for a in actions.split(",") if a]

    def respond(self, request: Received) -> Reply:
        if request.path != "/token":
            return Reply(404, {"details": "not found"})
        if request.method == "POST" and not self.allow_post:
            return Reply(404, "404 page not found\n")
        if request.method not in ("GET", "POST"):
            return Reply(405)
        if request.method == "POST":
            params = parse_qs(request.body.decode())
            scopes = " ".join(params.get("scope", [])).split()
        else:
            params = request.query
            scopes = params.get("scope", [])
        if params.get("service", [""])[0] != self.service:
            return Reply(400, {"errors": [{"code": "invalid service"}]})
        account = self._account(request)
        if account is None:
            return Reply(
                401,
                {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]},
                {"WWW-Authenticate": 'Basic realm="token"'},
            )
        access = []
        for scope in scopes:
            parsed = self._parse_scope(scope)
            if parsed is None:
                continue
            type_, name, actions = parsed
            granted = [a for a in self.policy(account, type_, name, actions) if a]
            if granted:
                access.append({"type": type_, "name": name, "actions": granted})
        token = self.issue_token(account, access, ttl=max(self.expires_in, 60))
        body: dict = {
            "expires_in": self.expires_in,
            "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        if self.token_field in ("token", "both"):
            body["token"] = token
        if self.token_field in ("access_token", "both", "decoy"):
            body["access_token"] = token
        if self.token_field == "decoy":
            # Only a client that prefers access_token gets a working token.
            body["token"] = "decoy-not-a-jwt"
        return Reply(200, body)

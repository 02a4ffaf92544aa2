"""Run the real distribution registry (``docker-registry serve``) for tests.

Four modes: ``http`` (plain, anonymous), ``https`` (TLS from a test CA,
anonymous), ``basic`` (TLS + htpasswd/bcrypt) and ``token`` (TLS + bearer tokens
from :class:`tests.support.tokenserver.TokenServer`). ``extra_config`` is merged
into the generated configuration, for example::

    hook = {"name": "portal", "url": "http://127.0.0.1:8000/hook",
            "timeout": "1s", "threshold": 3, "backoff": "1s",
            "headers": {"Authorization": ["Bearer s3cret"]}}
    registry = RegistryServer(
        "http", workdir=d, extra_config={"notifications": {"endpoints": [hook]}}
    ).start()
    image = registry.pusher().image("team/app", "v1", labels={"a": "b"})
    registry.stop()
"""

from __future__ import annotations

import base64
import contextlib
import copy
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt

from registries.clients.types import ClientConfig

from .certs import Leaf, TestCA
from .images import ImagePusher
from .tokenserver import TokenServer

BINARY = "docker-registry"
MODES = ("http", "https", "basic", "token")


def registry_binary() -> str | None:
    """Return the path of the registry binary, or None when it is not installed."""
    return shutil.which(BINARY)


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def refused_port(host: str = "127.0.0.1") -> Iterator[int]:
    """Hold a TCP port where connections are refused, for as long as the block runs.

    The socket is bound but never listens, so a connect gets ECONNREFUSED, and
    nothing else (a registry started in the same test, say) can be handed the
    port meanwhile, which a port from :func:`free_port` does not guarantee.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        yield sock.getsockname()[1]


def deep_merge(base: dict, extra: dict) -> dict:
    """Return ``base`` updated recursively with ``extra``."""
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


class RegistryServer:
    """One ``docker-registry serve`` process on a free loopback port."""

    def __init__(
        self,
        mode: str = "http",
        *,
        workdir: Path,
        ca: TestCA | None = None,
        leaf: Leaf | None = None,
        users: dict[str, str] | None = None,
        token_server: TokenServer | None = None,
        token_realm: str = "",
        token_service: str = "portolan-test-registry",
        token_issuer: str = "portolan-test-issuer",
        token_root_pem: str = "",
        extra_config: dict[str, Any] | None = None,
        start_timeout: float = 10.0,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if mode != "http" and ca is None:
            raise ValueError(f"mode {mode!r} needs a test CA")
        if token_server is not None:
            token_realm = token_realm or token_server.realm
            token_service = token_server.service
            token_issuer = token_server.issuer
            token_root_pem = token_root_pem or token_server.ca.cert_pem
        if mode == "token" and not (token_realm and token_root_pem):
            raise ValueError("token mode needs a token_server (or realm and root)")
        self.token_server = token_server
        self.mode = mode
        self.workdir = Path(workdir)
        self.ca = ca
        self.leaf = leaf
        self.users = users if users is not None else {"alice": "wonderland"}
        self.token_realm = token_realm
        self.token_service = token_service
        self.token_issuer = token_issuer
        self.token_root_pem = token_root_pem
        self.extra_config = extra_config or {}
        self.start_timeout = start_timeout
        self.host = "127.0.0.1"
        self.port = 0
        self.process: subprocess.Popen | None = None
        self.log_path = self.workdir / "registry.log"

    # -- addresses and client settings -------------------------------------------

    @property
    def tls(self) -> bool:
        return self.mode != "http"

    @property
    def host_port(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host_port}"

    @property
    def ca_pem(self) -> str:
        return self.ca.cert_pem if self.ca else ""

    @property
    def credentials(self) -> tuple[str, str]:
        """Return the first configured user and password ("" for anonymous modes)."""
        if self.mode not in ("basic", "token") or not self.users:
            return "", ""
        return next(iter(self.users.items()))

    def client_config(self, **overrides: Any) -> ClientConfig:
        """Return a ClientConfig that reaches this registry as it is set up."""
        username, password = self.credentials
        values: dict[str, Any] = {
            "base_url": self.url,
            "username": username,
            "password": password,
            "ca_pem": self.ca_pem,
            "allow_plain_http": not self.tls,
            "connect_timeout": 3.0,
            "read_timeout": 10.0,
        }
        values.update(overrides)
        return ClientConfig(**values)

    def skopeo_args(self) -> list[str]:
        """Return skopeo options for TLS trust and credentials of this registry."""
        args = []
        if self.tls:
            cert_dir = self.workdir / "skopeo-certs"
            cert_dir.mkdir(exist_ok=True)
            (cert_dir / "ca.crt").write_text(self.ca_pem)
            args.append(f"--cert-dir={cert_dir}")
        else:
            args.append("--tls-verify=false")
        username, password = self.credentials
        if username:
            args.append(f"--creds={username}:{password}")
        return args

    def verify(self) -> str | bool:
        """Return the ``verify`` value for plain ``requests`` calls."""
        if not self.tls:
            return True
        path = self.workdir / "ca.pem"
        path.write_text(self.ca_pem)
        return str(path)

    def authorization(self, scope: str) -> dict[str, str]:
        """Return headers that grant ``scope`` (for seeding, not for the client)."""
        username, password = self.credentials
        if self.mode == "basic":
            pair = base64.b64encode(f"{username}:{password}".encode()).decode()
            return {"Authorization": f"Basic {pair}"}
        if self.mode == "token":
            if self.token_server is None:
                raise RuntimeError("pushing to a token registry needs its token_server")
            type_, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access = [{"type": type_, "name": name, "actions": actions.split(",")}]
            token = self.token_server.issue_token(username or "seeder", access)
            return {"Authorization": f"Bearer {token}"}
        return {}

    def pusher(self) -> ImagePusher:
        """Return an ImagePusher with push rights on this registry."""
        return ImagePusher(self.url, verify=self.verify(), authorize=self.authorization)

    # -- configuration ----------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        storage = self.workdir / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "info", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(storage)},
                "delete": {"enabled": True},
                "cache": {"blobdescriptor": "inmemory"},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {
                "addr": self.host_port,
                "secret": "portolan-test-secret",
                "headers": {"X-Content-Type-Options": ["nosniff"]},
            },
        }
        if self.tls:
            self.leaf = self.leaf or self.ca.localhost()
            cert, key = self.leaf.write(self.workdir, "server")
            config["http"]["tls"] = {"certificate": str(cert), "key": str(key)}
        if self.mode == "basic":
            lines = [
                f"{user}:{bcrypt.hashpw(pw.encode(), bcrypt.gensalt(4)).decode()}"
                for user, pw in self.users.items()
            ]
            htpasswd = self.workdir / "htpasswd"
            htpasswd.write_text("\n".join(lines) + "\n")
            config["auth"] = {
                "htpasswd": {"realm": "portolan-test", "path": str(htpasswd)}
            }
        if self.mode == "token":
            bundle = self.workdir / "token-root.pem"
            bundle.write_text(self.token_root_pem)
            config["auth"] = {
                "token": {
                    "realm": self.token_realm,
                    "service": self.token_service,
                    "issuer": self.token_issuer,
                    "rootcertbundle": str(bundle),
                }
            }
        return deep_merge(config, self.extra_config)

    # -- life cycle -------------------------------------------------------------------

    def start(self) -> RegistryServer:
        binary = registry_binary()
        if binary is None:
            raise RuntimeError(f"{BINARY} is not installed")
        self.workdir.mkdir(parents=True, exist_ok=True)
        # A port found free can be taken before the registry binds it: retry.
        for _attempt in range(3):
            self.port = free_port(self.host)
            config_path = self.workdir / "config.yml"
            # JSON is YAML, so no YAML library is needed.
            config_path.write_text(json.dumps(self.config(), indent=2))
            with open(self.log_path, "ab") as log:
                self.process = subprocess.Popen(
                    [binary, "serve", str(config_path)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=self.workdir,
                    start_new_session=True,
                )
            if self._wait_ready():
                return self
            self.stop()
            if "address already in use" not in self.log_tail():
                break
        raise RuntimeError(f"docker-registry did not become ready:\n{self.log_tail()}")

    def _probe(self) -> int:
        """Return the status of ``GET /v2/``; trust is not checked (tests do that)."""
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            conn = http.client.HTTPSConnection(
                self.host, self.port, timeout=1, context=context
            )
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=1)
        try:
            conn.request("GET", "/v2/")
            return conn.getresponse().status
        finally:
            conn.close()

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                if self._probe() in (200, 401):
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

    def __enter__(self) -> RegistryServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

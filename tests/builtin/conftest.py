"""The built-in registry for tests: the real ``docker-registry`` with the config
the portal writes, HTTPS on loopback with the portal's CA, and the token realm
on pytest-django's ``live_server``.

``builtin_settings`` points the portal at a data directory of the session (keys
are generated once per session) and clears the failure counters.
``builtin_server`` starts the registry once per session (no notifications);
tests that use it get the same settings through ``registry_settings``.
``skopeo`` runs the real client with a private auth file and the CA in a
certificate directory.
``notifying_builtin`` is a registry of its own for one test, configured by
``manage.py builtin_registry config`` with notifications to the live server.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from django.core.management import call_command
from django.test import override_settings

from tests.support.registry import free_port, registry_binary
from tests.support.settle import wait_for_database_sessions_to_settle

MISSING_REGISTRY = (
    "docker-registry (the distribution registry, Debian package "
    "'docker-registry') is not installed"
)


@pytest.fixture(scope="session")
def builtin_data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("builtin-data")


@pytest.fixture
def builtin_settings(settings, builtin_data_dir):
    from django.core.cache import cache

    settings.DATA_DIR = builtin_data_dir
    settings.BUILTIN_REGISTRY_DIR = ""
    settings.BUILTIN_REGISTRY_ADDRESS = "127.0.0.1:5999"
    settings.BUILTIN_REGISTRY_TLS_CERT = ""
    settings.BUILTIN_REGISTRY_TLS_KEY = ""
    settings.BUILTIN_REGISTRY_TLS_CA = ""
    settings.PORTAL_URL = "http://testserver"
    cache.clear()
    yield settings
    cache.clear()


@dataclass
class BuiltinServer:
    """The running built-in registry of the session."""

    data_dir: Path
    port: int
    realm_base: str
    process: subprocess.Popen
    log_path: Path

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"https://{self.host_port}"

    @property
    def ca_path(self) -> str:
        return str(self.data_dir / "pki" / "ca.crt")

    def overrides(self) -> dict:
        return {
            "DATA_DIR": self.data_dir,
            "BUILTIN_REGISTRY_DIR": "",
            "BUILTIN_REGISTRY_ADDRESS": self.host_port,
            "BUILTIN_REGISTRY_TLS_CERT": "",
            "BUILTIN_REGISTRY_TLS_KEY": "",
            "BUILTIN_REGISTRY_TLS_CA": "",
            "PORTAL_URL": self.realm_base,
        }

    def get(self, path: str, token: str | None = None, **headers) -> requests.Response:
        """Send a request straight to the registry, with a bearer token if given."""
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return requests.get(
            f"{self.url}{path}", headers=headers, verify=self.ca_path, timeout=10
        )

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text().splitlines()[-lines:])


def _wait_ready(server: BuiltinServer, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            if server.get("/v2/").status_code == 401:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.05)
    return False


def start_builtin(data_dir: Path, realm_base: str) -> BuiltinServer:
    """Write the portal's registry config for a free port and serve it."""
    from registries.builtin import config, keys

    for _attempt in range(3):
        port = free_port()
        server = BuiltinServer(
            data_dir=data_dir,
            port=port,
            realm_base=realm_base,
            process=None,  # type: ignore[arg-type]
            log_path=data_dir / f"registry-{port}.log",
        )
        with override_settings(**server.overrides()):
            # Both algorithms' keys exist, so the root bundle lists both signers.
            keys.signing_key("RS256")
            keys.signing_key("ES256")
            path = config.write(
                config.build(
                    address=server.url,
                    host="127.0.0.1",
                    port=port,
                    notifications=None,
                )
            )
            command = config.registry_command(path)
        with open(server.log_path, "ab") as log:
            server.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        if _wait_ready(server):
            return server
        stop_builtin(server)
        if "address already in use" not in server.log_tail():
            break
    raise RuntimeError(f"The built-in registry did not start:\n{server.log_tail()}")


def stop_builtin(server: BuiltinServer) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=5)


@pytest.fixture(scope="session")
def builtin_server(builtin_data_dir, live_server):
    if registry_binary() is None:
        pytest.skip(MISSING_REGISTRY)
    server = start_builtin(builtin_data_dir, live_server.url)
    yield server
    stop_builtin(server)


@pytest.fixture
def notifying_builtin(settings, builtin_data_dir, live_server, tmp_path):
    """Configure the built-in registry with the command and serve that config."""
    if registry_binary() is None:
        pytest.skip(MISSING_REGISTRY)
    from django.core.cache import cache

    from registries.builtin import config

    port = free_port()
    settings.DATA_DIR = builtin_data_dir
    settings.BUILTIN_REGISTRY_DIR = str(tmp_path / "registry")
    settings.BUILTIN_REGISTRY_ADDRESS = f"127.0.0.1:{port}"
    settings.BUILTIN_REGISTRY_TLS_CERT = settings.BUILTIN_REGISTRY_TLS_KEY = ""
    settings.PORTAL_URL = live_server.url
    cache.clear()
    call_command("builtin_registry", "config", stdout=io.StringIO())
    written = json.loads(config.config_path().read_text())
    endpoint = written["notifications"]["endpoints"][0]
    assert endpoint["url"].startswith(f"{live_server.url}/library/hooks/registry/")
    log_path = tmp_path / "registry.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            config.registry_command(config.config_path()),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = BuiltinServer(
        data_dir=builtin_data_dir,
        port=port,
        realm_base=live_server.url,
        process=process,
        log_path=log_path,
    )
    assert _wait_ready(server), server.log_tail()
    yield server
    stop_builtin(server)
    # The registry may have posted to the live server until it stopped.
    wait_for_database_sessions_to_settle()


@pytest.fixture
def registry_settings(settings, builtin_server):
    """Point the portal (and its live server) at the session's built-in registry."""
    from django.core.cache import cache

    for name, value in builtin_server.overrides().items():
        setattr(settings, name, value)
    cache.clear()
    yield builtin_server
    cache.clear()


def basic(username: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{username}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def fetch_token(server: BuiltinServer, scopes, username=None, secret=None) -> str:
    """Ask the portal's token endpoint (on the live server) for a token."""
    from django.conf import settings

    headers = basic(username, secret) if username is not None else {}
    response = requests.get(
        f"{server.realm_base}/auth/token",
        params=[("service", settings.BUILTIN_REGISTRY_SERVICE)]
        + [("scope", scope) for scope in scopes],
        headers=headers,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


class Skopeo:
    """Run the real skopeo against the built-in registry with its own auth file."""

    def __init__(self, binary: str, workdir: Path, server: BuiltinServer) -> None:
        self.binary = binary
        self.workdir = workdir
        self.server = server
        self.cert_dir = workdir / "certs"
        self.cert_dir.mkdir(exist_ok=True)
        shutil.copy(server.ca_path, self.cert_dir / "ca.crt")
        self.authfile = workdir / "auth.json"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(workdir),
            "XDG_RUNTIME_DIR": str(workdir),
            "NO_PROXY": "*",
        }

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.binary, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
            check=False,
        )

    def login(self, username: str, secret: str) -> subprocess.CompletedProcess:
        return self.run(
            "login",
            f"--authfile={self.authfile}",
            f"--cert-dir={self.cert_dir}",
            f"--username={username}",
            "--password-stdin",
            self.server.host_port,
            stdin=secret,
        )

    def logout(self) -> None:
        self.authfile.unlink(missing_ok=True)

    def ref(self, name: str) -> str:
        return f"docker://{self.server.host_port}/{name}"

    def push(self, layout: Path, tag: str, name: str, creds: str | None = None):
        """Copy ``oci:layout:tag`` to ``name`` in the registry."""
        args = ["copy", "--retry-times=0", f"--dest-cert-dir={self.cert_dir}"]
        args += [f"--dest-creds={creds}"] if creds else [f"--authfile={self.authfile}"]
        return self.run(*args, f"oci:{layout}:{tag}", self.ref(name))

    def pull(self, name: str, into: Path, creds: str | None = None):
        """Copy ``name`` from the registry into an OCI layout directory."""
        args = ["copy", "--retry-times=0", f"--src-cert-dir={self.cert_dir}"]
        args += [f"--src-creds={creds}"] if creds else [f"--authfile={self.authfile}"]
        return self.run(*args, self.ref(name), f"oci:{into}:pulled")


@pytest.fixture
def skopeo(registry_settings, tmp_path) -> Skopeo:
    binary = shutil.which("skopeo")
    if binary is None:
        pytest.skip("skopeo is not installed")
    return Skopeo(binary, tmp_path, registry_settings)

"""``manage.py builtin_registry config|serve``: the entry, the config, the process."""

from __future__ import annotations

import io
import json
import stat
import subprocess
import time
from pathlib import Path

import pytest
import requests
from cryptography import x509
from django.core.management import CommandError, call_command

from portal.keys import hash_secret
from portal.models import AuditEntry
from registries.builtin import config, keys
from registries.builtin.models import SYSTEM_ROBOT_NAME, RobotAccount
from registries.models import Registry
from tests.support.registry import free_port, registry_binary

pytestmark = pytest.mark.django_db


def run(action: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("builtin_registry", action, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def _written() -> dict:
    return json.loads(config.config_path().read_text())


def test_config_creates_the_builtin_entry_and_writes_the_config(builtin_settings):
    output = run("config")
    assert "/etc/docker/certs.d/127.0.0.1:5999/ca.crt" in output
    assert "Notifications are off" in output or "notifications" in _written()
    registry = Registry.objects.get(is_builtin=True)
    assert registry.project is None
    assert registry.address == "https://127.0.0.1:5999"
    assert registry.namespace == ""
    assert registry.username == f"robot${SYSTEM_ROBOT_NAME}"
    robot = RobotAccount.objects.active().get(project__isnull=True)
    assert robot.token_hash == hash_secret(registry.password)
    assert registry.ca_pem == keys.portal_ca().certificate_pem

    written = _written()
    assert stat.S_IMODE(config.config_path().stat().st_mode) == 0o600
    token = written["auth"]["token"]
    assert token["realm"] == "http://testserver/auth/token"
    assert token["service"] == "portolan-registry"
    assert token["issuer"] == "portolan"
    bundle = x509.load_pem_x509_certificates(Path(token["rootcertbundle"]).read_bytes())
    assert keys.signing_key().certificate in bundle
    assert written["storage"]["delete"] == {"enabled": True}
    assert written["http"]["addr"] == "127.0.0.1:5999"
    tls = written["http"]["tls"]
    leaf = x509.load_pem_x509_certificates(Path(tls["certificate"]).read_bytes())[0]
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "127.0.0.1" in [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
    assert Path(tls["key"]).exists()


def test_config_twice_keeps_one_entry_and_the_crawler_token(builtin_settings):
    run("config")
    first = Registry.objects.get(is_builtin=True)
    secret = first.password
    run("config")
    assert Registry.objects.filter(is_builtin=True).count() == 1
    assert Registry.objects.get(is_builtin=True).password == secret
    assert RobotAccount.objects.filter(project__isnull=True).count() == 1
    assert AuditEntry.objects.filter(action="registry.create").count() == 1


def test_lost_crawler_token_is_replaced(builtin_settings):
    run("config")
    registry = Registry.objects.get(is_builtin=True)
    old = RobotAccount.objects.get(project__isnull=True)
    Registry.objects.filter(pk=registry.pk).update(password_encrypted="garbage")
    run("config")
    old.refresh_from_db()
    assert old.revoked_at is not None
    new = RobotAccount.objects.active().get(project__isnull=True)
    assert new.token_hash == hash_secret(Registry.objects.get(pk=registry.pk).password)


def test_public_address_listens_everywhere_with_its_name(builtin_settings):
    builtin_settings.BUILTIN_REGISTRY_ADDRESS = "registry.example.com:5000"
    run("config")
    written = _written()
    assert written["http"]["addr"] == ":5000"
    assert written["http"]["host"] == "https://registry.example.com:5000"
    leaf = x509.load_pem_x509_certificates(
        Path(written["http"]["tls"]["certificate"]).read_bytes()
    )[0]
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "registry.example.com" in sans.get_values_for_type(x509.DNSName)


def test_operator_certificate_is_used_as_given(builtin_settings, tmp_path):
    cert, key = tmp_path / "op.crt", tmp_path / "op.key"
    cert.write_text("operator certificate")
    key.write_text("operator key")
    builtin_settings.BUILTIN_REGISTRY_TLS_CERT = str(cert)
    builtin_settings.BUILTIN_REGISTRY_TLS_KEY = str(key)
    run("config")
    tls = _written()["http"]["tls"]
    assert tls == {"certificate": str(cert), "key": str(key)}
    # A publicly trusted certificate needs no CA download.
    assert Registry.objects.get(is_builtin=True).ca_pem == ""


def test_address_taken_by_another_global_entry_is_a_clear_error(
    builtin_settings, personas
):
    from registries.services import registry_create

    registry_create(
        acting_user=personas["portal_admin"],
        name="Someone's",
        address="https://127.0.0.1:5999",
    )
    with pytest.raises(CommandError, match="already exists"):
        run("config")


def test_serve_without_the_binary_says_how_to_install_it(builtin_settings, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(CommandError, match="apt-get install docker-registry"):
        run("serve")


@pytest.mark.registry
@pytest.mark.timeout(60)
def test_serve_runs_the_registry_with_the_written_config(builtin_settings, monkeypatch):
    if registry_binary() is None:
        pytest.skip("docker-registry is not installed")
    port = free_port()
    builtin_settings.BUILTIN_REGISTRY_ADDRESS = f"127.0.0.1:{port}"
    captured = []
    monkeypatch.setattr("os.execv", lambda path, argv: captured.append(argv))
    run("serve")
    (argv,) = captured
    assert argv[1:] == ["serve", str(config.config_path())]
    process = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        ca = str(keys.pki_dir() / "ca.crt")
        deadline = time.monotonic() + 10
        response = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                response = requests.get(
                    f"https://127.0.0.1:{port}/v2/", verify=ca, timeout=1
                )
                break
            except requests.RequestException:
                time.sleep(0.05)
        assert response is not None, "the registry did not answer over HTTPS"
        assert response.status_code == 401
        challenge = response.headers["WWW-Authenticate"]
        assert challenge.startswith('Bearer realm="http://testserver/auth/token"')
        assert 'service="portolan-registry"' in challenge
        # Plain HTTP is not served at all.
        with pytest.raises(requests.RequestException):
            requests.get(f"http://127.0.0.1:{port}/v2/", timeout=2).raise_for_status()
    finally:
        process.terminate()
        process.wait(timeout=5)


def test_plain_http_realm_only_on_loopback(builtin_settings):
    builtin_settings.PORTAL_URL = "http://127.0.0.1:8000"
    assert "PORTAL_URL is plain HTTP" not in run("config")
    registry = Registry.objects.get(is_builtin=True)
    # The crawler may fetch tokens from the loopback portal; the registry is HTTPS.
    assert registry.allow_plain_http is True
    assert registry.address.startswith("https://")
    builtin_settings.PORTAL_URL = "http://portal.example.com"
    assert "PORTAL_URL is plain HTTP" in run("config")
    assert Registry.objects.get(is_builtin=True).allow_plain_http is False
    builtin_settings.PORTAL_URL = "https://portal.example.com"
    assert "PORTAL_URL is plain HTTP" not in run("config")
    assert (
        _written()["auth"]["token"]["realm"] == "https://portal.example.com/auth/token"
    )

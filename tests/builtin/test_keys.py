"""The portal's CA and signing keys: generated once, private, and the libtrust kid."""

from __future__ import annotations

import re
import stat
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from registries.builtin import keys

KID = re.compile(r"^[A-Z2-7]{4}(?::[A-Z2-7]{4}){11}$")


@pytest.fixture
def fresh_data(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.BUILTIN_REGISTRY_DIR = ""
    return tmp_path


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(
    "key",
    [
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec.generate_private_key(ec.SECP256R1()),
    ],
    ids=["rsa", "ec"],
)
def test_libtrust_kid_is_12_groups_of_4_base32_characters(key):
    kid = keys.libtrust_kid(key.public_key())
    assert KID.match(kid), kid
    assert len(kid) == 12 * 4 + 11
    other = ec.generate_private_key(ec.SECP256R1())
    assert keys.libtrust_kid(other.public_key()) != kid


def test_keys_are_generated_once_and_kept_private(fresh_data, settings):
    ca = keys.portal_ca()
    signer = keys.signing_key("ES256")
    assert keys.portal_ca().certificate == ca.certificate
    assert keys.signing_key("ES256").certificate == signer.certificate
    assert _mode(fresh_data / "pki") == 0o700
    assert _mode(fresh_data / "pki" / "ca.pem") == 0o600
    assert _mode(fresh_data / "pki" / "token-es256.pem") == 0o600
    # The CA certificate alone is public: Docker hosts download it.
    assert _mode(fresh_data / "pki" / "ca.crt") == 0o644
    assert "PRIVATE" not in (fresh_data / "pki" / "ca.crt").read_text()
    # The signer is self-signed: only it, not the CA's other certificates, signs.
    assert signer.certificate.issuer == signer.certificate.subject
    assert signer.certificate.issuer != ca.certificate.subject


def test_processes_starting_together_agree_on_one_key(fresh_data):
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _i: keys.signing_key("ES256"), range(4)))
    fingerprints = {pair.kid for pair in results}
    assert len(fingerprints) == 1
    leftovers = [
        p.name for p in (fresh_data / "pki").iterdir() if p.name.startswith(".")
    ]
    assert leftovers == []


def test_signing_bundle_lists_every_kept_signer(fresh_data, settings):
    settings.BUILTIN_REGISTRY_TOKEN_ALGORITHM = "RS256"
    assert (
        len(x509.load_pem_x509_certificates(keys.signing_certificates_pem().encode()))
        == 1
    )
    keys.signing_key("ES256")
    bundle = x509.load_pem_x509_certificates(keys.signing_certificates_pem().encode())
    assert {c.subject for c in bundle} == {
        keys.signing_key("RS256").certificate.subject,
        keys.signing_key("ES256").certificate.subject,
    }


def test_registry_certificate_is_issued_by_the_ca_for_its_names(fresh_data):
    cert_path, key_path = keys.registry_tls_files(["registry.example.com", "127.0.0.1"])
    assert _mode(key_path) == 0o600
    chain = x509.load_pem_x509_certificates(cert_path.read_bytes())
    leaf, ca = chain
    assert ca == keys.portal_ca().certificate
    assert leaf.issuer == ca.subject
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["registry.example.com"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    # Unchanged names keep the certificate; new names get a new one.
    keys.registry_tls_files(["registry.example.com", "127.0.0.1"])
    assert x509.load_pem_x509_certificates(cert_path.read_bytes())[0] == leaf
    keys.registry_tls_files(["other.example.com"])
    renewed = x509.load_pem_x509_certificates(cert_path.read_bytes())[0]
    assert renewed != leaf


def test_unknown_algorithm_is_refused(fresh_data):
    with pytest.raises(ValueError, match="RS256"):
        keys.signing_key("HS256")

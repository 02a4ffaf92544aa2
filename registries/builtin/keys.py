"""The portal's own CA, token-signing keys and the registry's TLS certificate.

Everything is generated once into ``settings.DATA_DIR/pki`` (private parts mode
0600) and reused after, so restarts keep tokens verifiable and Docker hosts keep
trusting the CA. Files are written to a temporary name and linked into place,
so two processes starting at once agree on one key and never see half a file.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings

ALGORITHMS = ("RS256", "ES256")
CA_VALIDITY = timedelta(days=3650)
SIGNING_VALIDITY = timedelta(days=3650)
TLS_VALIDITY = timedelta(days=365)
# Re-issue the registry's certificate when it has less than this left.
TLS_RENEW_BEFORE = timedelta(days=30)


@dataclass(frozen=True)
class KeyPair:
    """A private key and the certificate for its public key."""

    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @property
    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def certificate_der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def kid(self) -> str:
        return libtrust_kid(self.key.public_key())


def pki_dir() -> Path:
    return Path(settings.DATA_DIR) / "pki"


def registry_dir() -> Path:
    """Return where the built-in registry keeps its config, TLS files and storage."""
    configured = getattr(settings, "BUILTIN_REGISTRY_DIR", "")
    return Path(configured) if configured else Path(settings.DATA_DIR) / "registry"


def libtrust_kid(public_key) -> str:
    """Return the key id distribution 2.8 (libtrust) computes for ``public_key``.

    SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits, base32 without
    padding, in 12 groups of 4 characters joined by ``:``.
    """
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode()
    return ":".join(encoded[i : i + 4] for i in range(0, 48, 4))


# -- files -----------------------------------------------------------------------------


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)


def write_once(path: Path, content: bytes, mode: int = 0o600) -> bool:
    """Write ``path`` unless it exists; return whether this call wrote it."""
    _private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        os.link(temporary, path)
        return True
    except FileExistsError:
        return False
    finally:
        temporary.unlink(missing_ok=True)


def replace_file(path: Path, content: bytes, mode: int) -> None:
    """Write ``path`` atomically, replacing what is there."""
    _private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(content)
    os.replace(temporary, path)


def _key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


@lru_cache(maxsize=16)
def _load(path: str, _stamp: tuple[int, int]) -> KeyPair:
    data = Path(path).read_bytes()
    key = serialization.load_pem_private_key(data, password=None)
    certificate = x509.load_pem_x509_certificates(data)[0]
    return KeyPair(key=key, certificate=certificate)


def _read(path: Path) -> KeyPair:
    stat = path.stat()
    return _load(str(path), (stat.st_mtime_ns, stat.st_size))


def _kept(path: Path, generate) -> KeyPair:
    """Return the key pair in ``path``, generating it the first time."""
    if not path.exists():
        pair = generate()
        write_once(path, _key_pem(pair.key) + _cert_pem(pair.certificate))
    return _read(path)


# -- certificates ----------------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Portolan"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(*, signing: bool, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signing,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _generate_ca() -> KeyPair:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    # A random suffix tells one installation's CA from another's in trust stores.
    subject = _name(f"Portolan built-in registry CA {secrets.token_hex(4)}")
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signing=True, cert_sign=True), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return KeyPair(key=key, certificate=certificate)


def portal_ca() -> KeyPair:
    """Return the portal's CA, which issues the built-in registry's certificate."""
    pair = _kept(pki_dir() / "ca.pem", _generate_ca)
    public = pki_dir() / "ca.crt"
    pem = _cert_pem(pair.certificate)
    if not public.exists() or public.read_bytes() != pem:
        replace_file(public, pem, 0o644)
    return pair


def _generate_signing(algorithm: str) -> KeyPair:
    if algorithm == "RS256":
        key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    # Self-signed and listed on its own in the registry's root bundle, so no
    # other certificate of the portal (the TLS one, say) can sign tokens.
    subject = _name(f"Portolan token signer {algorithm} {secrets.token_hex(4)}")
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + SIGNING_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(_key_usage(signing=True, cert_sign=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(key=key, certificate=certificate)


def signing_key(algorithm: str | None = None) -> KeyPair:
    """Return the token-signing key pair for ``algorithm`` (the configured one)."""
    algorithm = algorithm or settings.BUILTIN_REGISTRY_TOKEN_ALGORITHM
    if algorithm not in ALGORITHMS:
        raise ValueError(f"Token algorithm must be one of {ALGORITHMS}.")
    return _kept(
        pki_dir() / f"token-{algorithm.lower()}.pem",
        lambda: _generate_signing(algorithm),
    )


def signing_certificates_pem() -> str:
    """Return the root bundle for the registry: every signing certificate kept.

    The configured algorithm's key is created if missing; the other is listed
    only if it exists, so switching algorithms needs no new registry config.
    """
    signing_key()
    pems = []
    for algorithm in ALGORITHMS:
        path = pki_dir() / f"token-{algorithm.lower()}.pem"
        if path.exists():
            pems.append(_read(path).certificate_pem)
    return "".join(pems)


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name.strip("[]")))
    except ValueError:
        return x509.DNSName(name)


def _issue_tls(names: list[str]) -> KeyPair:
    ca = portal_ca()
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(min(now + TLS_VALIDITY, ca.certificate.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(_key_usage(signing=True, cert_sign=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.SubjectAlternativeName([_san(n) for n in names]), critical=False
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )
    return KeyPair(key=key, certificate=certificate)


def _tls_current(cert_path: Path, names: list[str]) -> bool:
    """Return whether the issued certificate covers ``names`` and is not expiring."""
    try:
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        sans = certificate.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value
        issuer_ok = certificate.issuer == portal_ca().certificate.subject
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    wanted = {str(_san(n).value) for n in names}
    have = {str(n.value) for n in sans}
    left = certificate.not_valid_after_utc - datetime.now(UTC)
    return issuer_ok and wanted <= have and left > TLS_RENEW_BEFORE


def registry_tls_files(names: list[str]) -> tuple[Path, Path]:
    """Return (certificate, key) paths of a CA-issued certificate for ``names``.

    The certificate is issued again when the names change or it nears expiry.
    """
    directory = registry_dir() / "tls"
    cert_path, key_path = directory / "registry.crt", directory / "registry.key"
    if not (key_path.exists() and _tls_current(cert_path, names)):
        pair = _issue_tls(names)
        replace_file(key_path, _key_pem(pair.key), 0o600)
        # The chain (leaf + CA) lets clients that only trust the CA verify it.
        chain = _cert_pem(pair.certificate) + _cert_pem(portal_ca().certificate)
        replace_file(cert_path, chain, 0o644)
    return cert_path, key_path


def certificate_fingerprint(certificate: x509.Certificate) -> str:
    digest = certificate.fingerprint(hashes.SHA256()).hex().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))

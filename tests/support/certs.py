"""A throw-away certificate authority and the leaf certificates tests need."""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Portolan tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem_key(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@dataclass(frozen=True)
class Leaf:
    """A certificate with its key, as PEM text."""

    cert_pem: str
    key_pem: str
    der: bytes
    key: object

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.der).hexdigest()

    def write(self, directory: Path, stem: str) -> tuple[Path, Path]:
        """Write ``stem.crt`` and ``stem.key`` and return their paths."""
        cert, key = directory / f"{stem}.crt", directory / f"{stem}.key"
        cert.write_text(self.cert_pem)
        key.write_text(self.key_pem)
        return cert, key


class TestCA:
    """Issue certificates from a fresh, self-signed CA."""

    __test__ = False  # not a pytest test class

    def __init__(self, common_name: str = "Portolan Test CA") -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        ski = x509.SubjectKeyIdentifier.from_public_key(self.key.public_key())
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(_name(common_name))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                True,
            )
            .add_extension(ski, False)
            .sign(self.key, hashes.SHA256())
        )
        self.cert_pem = self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def issue(
        self,
        *names: str,
        common_name: str | None = None,
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
        rsa_key: bool = False,
        server: bool = True,
    ) -> Leaf:
        """Issue a leaf for DNS names and IP addresses in ``names``."""
        now = datetime.now(UTC)
        key = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if rsa_key
            else ec.generate_private_key(ec.SECP256R1())
        )
        sans: list[x509.GeneralName] = []
        for name in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name or (names[0] if names else "leaf")))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(valid_from or now - timedelta(hours=1))
            .not_valid_after(valid_until or now + timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    self.key.public_key()
                ),
                False,
            )
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), False)
        if server:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False
            )
        cert = builder.sign(self.key, hashes.SHA256())
        return Leaf(
            cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
            key_pem=_pem_key(key),
            der=cert.public_bytes(serialization.Encoding.DER),
            key=key,
        )

    def localhost(self) -> Leaf:
        """Issue a valid certificate for 127.0.0.1, ::1 and localhost."""
        return self.issue("127.0.0.1", "localhost", "::1")

    def wrong_host(self) -> Leaf:
        """Issue a valid certificate for a name that is not this machine."""
        return self.issue("registry.example.invalid")

    def expired(self) -> Leaf:
        """Issue a certificate for 127.0.0.1 that expired yesterday."""
        now = datetime.now(UTC)
        return self.issue(
            "127.0.0.1",
            "localhost",
            valid_from=now - timedelta(days=10),
            valid_until=now - timedelta(days=1),
        )

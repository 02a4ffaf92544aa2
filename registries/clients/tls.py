"""Inspect server certificates and build the trust used to verify them.

``fetch_certificate`` connects *without* verification on purpose: after a failed
handshake the portal shows the certificate so that a person can decide to trust
it (trust on first use). Nothing here treats a fetched certificate as trusted.
"""

from __future__ import annotations

import functools
import hashlib
import socket
import ssl
from datetime import UTC

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtensionOID

from .types import CertificateInfo

_PEM_BEGIN = b"-----BEGIN CERTIFICATE-----"


def normalise_fingerprint(value: str) -> str:
    """Return a SHA-256 fingerprint as lower-case hex without separators."""
    return "".join(ch for ch in value.lower() if ch in "0123456789abcdef")


def certificate_info(pem_or_der: str | bytes) -> CertificateInfo:
    """Describe the first certificate of a PEM text or a DER blob."""
    data = pem_or_der.encode() if isinstance(pem_or_der, str) else pem_or_der
    if _PEM_BEGIN in data:
        cert = x509.load_pem_x509_certificate(data[data.index(_PEM_BEGIN) :])
    else:
        cert = x509.load_der_x509_certificate(data)
    der = cert.public_bytes(serialization.Encoding.DER)
    try:
        san = cert.extensions.get_extension_for_oid(
            ExtensionOID.SUBJECT_ALTERNATIVE_NAME
        ).value
        sans = tuple(
            [f"DNS:{name}" for name in san.get_values_for_type(x509.DNSName)]
            + [f"IP:{ip}" for ip in san.get_values_for_type(x509.IPAddress)]
        )
    except x509.ExtensionNotFound:
        sans = ()
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        sans=sans,
        sha256_fingerprint=hashlib.sha256(der).hexdigest(),
        not_before=cert.not_valid_before_utc.astimezone(UTC),
        not_after=cert.not_valid_after_utc.astimezone(UTC),
        pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        self_signed=cert.subject == cert.issuer,
    )


def fetch_certificate(host: str, port: int, *, timeout: float = 5.0) -> CertificateInfo:
    """Fetch the leaf certificate that ``host:port`` presents, without verifying it.

    Raises ``OSError`` (including ``ssl.SSLError`` and ``TimeoutError``) when no
    certificate can be obtained.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    server_name = host.strip("[]")
    with socket.create_connection((server_name, port), timeout=timeout) as sock:
        with context.wrap_socket(sock, server_hostname=server_name) as tls:
            der = tls.getpeercert(binary_form=True)
    if not der:
        raise ssl.SSLError(f"{host}:{port} presented no certificate")
    return certificate_info(der)


@functools.lru_cache(maxsize=64)
def verifying_context(extra_ca_pem: str = "") -> ssl.SSLContext:
    """Return a context that trusts the system CAs plus ``extra_ca_pem``.

    Loading the system store costs ~100 ms, so contexts are cached per bundle and
    shared (an ``SSLContext`` is safe to share between threads); callers must not
    change them. Raises ``ValueError`` when ``extra_ca_pem`` holds no usable
    certificate.
    """
    context = ssl.create_default_context()
    # Python 3.13 turns on strict X.509 checks that Go and curl do not make;
    # private registries' home-made certificates often fail them (no AKI).
    context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    # A server certificate the admin trusted on first use is an anchor of its
    # own, without its issuer (3.13 sets this by default, 3.12 does not).
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    try:
        # The system store can be empty in slim containers; requests' bundle
        # keeps public registries working there.
        import certifi

        context.load_verify_locations(cafile=certifi.where())
    except (ImportError, OSError):
        pass
    if extra_ca_pem.strip():
        try:
            context.load_verify_locations(cadata=extra_ca_pem)
        except ssl.SSLError as exc:
            raise ValueError(
                f"The CA bundle holds no usable certificate: {exc}"
            ) from exc
    return context


@functools.lru_cache(maxsize=1)
def pinning_context() -> ssl.SSLContext:
    """Return a context that skips chain checks; the caller must check a pin."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context

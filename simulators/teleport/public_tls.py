"""The simulated Proxy's browser-facing TLS: a "public" CA and a certificate for
localhost/127.0.0.1, separate from the cluster's CAs, as a real Proxy's certificate
(Let's Encrypt, a corporate CA) is separate from Teleport's own."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def public_pki() -> tuple[bytes, bytes, bytes]:
    """(CA cert, server cert, server key) PEMs: the Proxy's browser-facing certificate."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Simulated Public Root CA")])
    leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    certs = []
    for subject, public, ext in (
        (ca_name, ca_key.public_key(), x509.BasicConstraints(ca=True, path_length=None)),
        (leaf_name, key.public_key(), x509.SubjectAlternativeName(sans)),
    ):
        builder = x509.CertificateBuilder(
            issuer_name=ca_name,
            subject_name=subject,
            public_key=public,
            serial_number=x509.random_serial_number(),
            not_valid_before=now - dt.timedelta(minutes=1),
            not_valid_after=now + dt.timedelta(days=30),
        )
        certs.append(builder.add_extension(ext, critical=False).sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return certs[0].public_bytes(pem), certs[1].public_bytes(pem), key_pem


def public_server_context(chain_pem: bytes) -> ssl.SSLContext:
    """A TLS server context presenting `chain_pem` (certificate followed by key)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory(prefix="simproxy-") as folder:
        Path(folder, "chain.pem").write_bytes(chain_pem)
        ctx.load_cert_chain(Path(folder, "chain.pem"))
    return ctx

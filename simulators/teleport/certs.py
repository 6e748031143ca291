"""Throw-away Teleport-like PKI for the simulator and for tests.

Teleport's Auth Service speaks gRPC over mutual TLS: the server certificate is issued by the
cluster's Host CA for the "API domain" ``teleport.cluster.local``, and a plugin authenticates
with a client certificate whose subject carries the Teleport user (CN), roles (O) and cluster
(OID 1.3.9999.1.7). We rebuild exactly that shape so the bridge's real connection code (identity
parsing, SNI override, CA pinning, expiry checks) runs unchanged against the simulator.

Nothing here is secure or meant for production: keys are generated on the fly and live in memory.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import ssh
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "API_DOMAIN",
    "TELEPORT_CLUSTER_OID",
    "ClientCreds",
    "ClusterPKI",
    "KeyType",
    "make_cluster",
    "write_identity_file",
    "write_tls_triple",
]

#: Teleport's fixed server name for the Auth API; clients must use it for SNI and verification.
API_DOMAIN = "teleport.cluster.local"
#: Subject attribute in which Teleport stores the cluster name of a user certificate.
TELEPORT_CLUSTER_OID = x509.ObjectIdentifier("1.3.9999.1.7")

KeyType = Literal["ec", "rsa"]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

# Backdate certificates a little so tiny clock differences between threads never make a
# freshly issued certificate "not yet valid".
_BACKDATE = dt.timedelta(minutes=1)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_key(key_type: KeyType) -> PrivateKey:
    """Generate a key of the cluster's algorithm (Teleport supports both RSA and ECDSA CAs)."""
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa":
        # 2048 bits: what Teleport's legacy RSA suite uses, and fast enough for tests.
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"unsupported key type {key_type!r}")


def _key_pem(key: PrivateKey) -> bytes:
    # Traditional OpenSSL PEM ("RSA PRIVATE KEY" / "EC PRIVATE KEY"), what tctl writes.
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class ClientCreds:
    """A client identity as a plugin would receive it from ``tctl auth sign``.

    All PEM values are bytes, ready for ``grpc.ssl_channel_credentials``. ``ssh_cert`` and
    ``ssh_ca`` go into the identity file; the SSH reverse tunnel path uses them.
    """

    key_pem: bytes
    cert_pem: bytes
    ca_pem: bytes
    user: str = "access-plugin"
    roles: tuple[str, ...] = ("access-plugin",)
    not_after: dt.datetime | None = None
    ssh_cert: str = ""
    ssh_ca: str = ""

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """grpc credentials pinning the cluster CA; combine with ``ssl_target_name_override``."""
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca_pem,
            private_key=self.key_pem,
            certificate_chain=self.cert_pem,
        )


@dataclass
class ClusterPKI:
    """The cluster's Host CA plus the Auth server certificate it issued.

    Calling :func:`make_cluster` twice yields two unrelated CAs, which is how tests build a
    "certificate from another cluster" that the server must reject.
    """

    cluster_name: str
    ca_cert_pem: bytes
    ca_key: PrivateKey
    server_cert_pem: bytes
    server_key_pem: bytes
    key_type: KeyType = "ec"
    _ca_cert: x509.Certificate | None = field(default=None, repr=False)

    @property
    def ca_cert(self) -> x509.Certificate:
        if self._ca_cert is None:
            self._ca_cert = x509.load_pem_x509_certificate(self.ca_cert_pem)
        return self._ca_cert

    def issue_client(
        self,
        user: str = "access-plugin",
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        roles: Sequence[str] = ("access-plugin",),
    ) -> ClientCreds:
        """Issue a user certificate shaped like Teleport's (CN=user, O=role…, cluster OID).

        ``not_after`` defaults to one hour from now (tbot's certificate lifetime); pass a time in
        the past to get an already expired certificate for "expired credentials" tests. The
        validity window is not checked here on purpose.
        """
        now = _now()
        not_before = not_before or (now - _BACKDATE)
        not_after = not_after or (now + dt.timedelta(hours=1))
        key = _new_key(self.key_type)
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, user)]
        attrs += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, role) for role in roles]
        # Teleport encodes the cluster as a UTF8String under its private OID.
        attrs.append(x509.NameAttribute(TELEPORT_CLUSTER_OID, self.cluster_name))
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attrs))
            .issuer_name(self.ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=self.key_type == "rsa",
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self.ca_key, hashes.SHA256())
        )
        return ClientCreds(
            key_pem=_key_pem(key),
            cert_pem=_cert_pem(cert),
            ca_pem=self.ca_cert_pem,
            user=user,
            roles=tuple(roles),
            not_after=not_after,
            ssh_cert=self._ssh_user_cert(key, user, roles, not_before, not_after),
            ssh_ca=self.ssh_ca_line(),
        )

    def _ssh_user_cert(
        self,
        key: PrivateKey,
        user: str,
        roles: Sequence[str],
        not_before: dt.datetime,
        not_after: dt.datetime,
    ) -> str:
        """A real OpenSSH user certificate, as tctl writes it; the simulated Proxy's SSH
        reverse tunnel authenticates it (the simulator signs user and host certificates
        with the one cluster CA key; Teleport has separate user and host CAs)."""
        builder = (
            ssh.SSHCertificateBuilder()
            .public_key(key.public_key())
            .serial(int.from_bytes(os.urandom(8), "big"))
            .type(ssh.SSHCertificateType.USER)
            .key_id(user.encode())
            .valid_principals([p.encode() for p in (user, *roles)])
            .valid_after(int(not_before.timestamp()))
            .valid_before(int(not_after.timestamp()))
        )
        return builder.sign(self.ca_key).public_bytes().decode()

    def issue_ssh_host(
        self,
        principals: Sequence[str] = ("localhost", "127.0.0.1"),
        *,
        ca_key: PrivateKey | None = None,
    ) -> tuple[bytes, str]:
        """A Proxy's SSH host key (OpenSSH PEM) and host certificate line, signed by the
        cluster's CA (or `ca_key`: a host CA the identity does not know)."""
        key = _new_key(self.key_type)
        now = _now()
        cert = (
            ssh.SSHCertificateBuilder()
            .public_key(key.public_key())
            .serial(int.from_bytes(os.urandom(8), "big"))
            .type(ssh.SSHCertificateType.HOST)
            .key_id(b"proxy." + self.cluster_name.encode())
            .valid_principals([p.encode() for p in principals])
            .valid_after(int((now - _BACKDATE).timestamp()))
            .valid_before(int((now + dt.timedelta(days=30)).timestamp()))
            .sign(ca_key or self.ca_key)
        )
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        return pem, cert.public_bytes().decode()

    def ssh_user_ca_line(self) -> str:
        """authorized_keys line trusting user certificates signed by the cluster's CA."""
        pub = (
            self.ca_key.public_key()
            .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
            .decode()
        )
        return f"cert-authority {pub}"

    def ssh_ca_line(self) -> str:
        """The ``@cert-authority`` known_hosts line tctl writes for the cluster's Host CA."""
        pub = (
            self.ca_key.public_key()
            .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
            .decode()
        )
        name = self.cluster_name
        return f"@cert-authority {name},*.{name} {pub} type=host"

    def server_credentials(self) -> grpc.ServerCredentials:
        """mTLS server credentials: Auth's certificate, and client certs must chain to our CA."""
        return grpc.ssl_server_credentials(
            [(self.server_key_pem, self.server_cert_pem)],
            root_certificates=self.ca_cert_pem,
            require_client_auth=True,
        )


def make_cluster(cluster_name: str = "sim.example.com", key_type: KeyType = "ec") -> ClusterPKI:
    """Create a fresh cluster CA and an Auth server certificate for ``teleport.cluster.local``.

    The server certificate also names ``localhost`` and 127.0.0.1 so ad-hoc tools that do not
    override the target name can still connect.
    """
    now = _now()
    ca_key = _new_key(key_type)
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cluster_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, cluster_name),
        ]
    )
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
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
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = _new_key(key_type)
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, API_DOMAIN),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Auth"),
                    x509.NameAttribute(TELEPORT_CLUSTER_OID, cluster_name),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName(API_DOMAIN),
                    x509.DNSName("*." + API_DOMAIN),
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return ClusterPKI(
        cluster_name=cluster_name,
        ca_cert_pem=_cert_pem(ca_cert),
        ca_key=ca_key,
        server_cert_pem=_cert_pem(server_cert),
        server_key_pem=_key_pem(server_key),
        key_type=key_type,
        _ca_cert=ca_cert,
    )


def identity_file_text(creds: ClientCreds, cluster_name: str) -> str:
    """Render the ``tctl auth sign --format=file`` layout.

    Order: private key, SSH certificate line, TLS certificate, ``@cert-authority`` line(s),
    TLS CA certificate(s).
    """
    ssh_cert = creds.ssh_cert or _placeholder_ssh_cert()
    ssh_ca = creds.ssh_ca or (
        f"@cert-authority {cluster_name},*.{cluster_name} ssh-rsa "
        "AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7simulatorplaceholder type=host"
    )
    parts = [
        creds.key_pem.decode().rstrip("\n"),
        ssh_cert.rstrip("\n"),
        creds.cert_pem.decode().rstrip("\n"),
        ssh_ca.rstrip("\n"),
        creds.ca_pem.decode().rstrip("\n"),
    ]
    return "\n".join(parts) + "\n"


def _placeholder_ssh_cert() -> str:
    return "ssh-rsa-cert-v01@openssh.com AAAAHHNzaC1yc2EtY2VydC12MDFAb3BlbnNzaC5jb20simulator"


def write_identity_file(
    path: str | os.PathLike[str], creds: ClientCreds, cluster_name: str
) -> Path:
    """Write an identity file (mode 0600, like tctl) and return its path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(identity_file_text(creds, cluster_name))
    target.chmod(0o600)
    return target


def write_tls_triple(
    directory: str | os.PathLike[str], creds: ClientCreds
) -> tuple[Path, Path, Path]:
    """Write ``auth.key``/``auth.crt``/``auth.cas`` as ``tctl auth sign --format=tls`` does."""
    base = Path(directory)
    base.mkdir(parents=True, exist_ok=True)
    key_path, crt_path, cas_path = base / "auth.key", base / "auth.crt", base / "auth.cas"
    key_path.write_bytes(creds.key_pem)
    key_path.chmod(0o600)
    crt_path.write_bytes(creds.cert_pem)
    cas_path.write_bytes(creds.ca_pem)
    return key_path, crt_path, cas_path

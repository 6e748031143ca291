"""Teleport credentials: identity files (tctl / tbot) and the TLS triple, with reload.

The TLS parts (key, client certificate, CA certificates) are what gRPC needs on every
path. An identity file also carries an SSH user certificate and the cluster's SSH host CAs
(`@cert-authority` lines): they are kept for the SSH paths (a Proxy without TLS routing, the
reverse tunnel port), where they authenticate us to the Proxy and the Proxy to us. A TLS
triple has no SSH part, so only the TLS paths are open to it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID, ObjectIdentifier

from teleportbridge.config import TeleportConfig
from teleportbridge.teleport.errors import CredentialsError

log = logging.getLogger(__name__)

# Teleport puts the cluster name in this subject attribute of user certificates.
TELEPORT_CLUSTER_OID = ObjectIdentifier("1.3.9999.1.7")
EXPIRED_MESSAGE = (
    "No valid credentials found, this likely means credentials are expired. In this case, "
    "please sign new credentials and increase their TTL if needed."
)
_SSH_CERT_PREFIXES = ("ssh-", "ecdsa-sha2-", "sk-")


@dataclasses.dataclass(frozen=True)
class Credentials:
    """One loaded credential set. repr hides the private key."""

    key_pem: bytes = dataclasses.field(repr=False)
    cert_pem: bytes
    ca_pem: bytes
    source: str
    not_after: datetime
    user: str
    cluster: str
    # The SSH user certificate line (OpenSSH authorized-key format) and the SSH host CA
    # lines of an identity file; empty for a TLS triple (no SSH path possible).
    ssh_cert: str = ""
    ssh_cas: tuple[str, ...] = ()

    @property
    def has_ssh(self) -> bool:
        return bool(self.ssh_cert and self.ssh_cas)

    @property
    def expired(self) -> bool:
        return self.not_after <= datetime.now(UTC)


def _is_ssh_cert_line(line: str) -> bool:
    """Teleport's test: the first token is an OpenSSH certificate type."""
    first = line.split(" ", 1)[0]
    return first.startswith(_SSH_CERT_PREFIXES) and first.endswith("-cert-v01@openssh.com")


def _identity_parts(text: str, source: str) -> tuple[list[str], str, tuple[str, ...]]:
    """PEM blocks, the SSH certificate line and the `@cert-authority` lines, in one pass
    with Teleport's rules: lines are trimmed, PEM blocks run BEGIN..END, an SSH cert line
    starts with a certificate key type, the rest is ignored."""
    blocks: list[str] = []
    current: list[str] | None = None
    ssh_cert = ""
    ssh_cas: list[str] = []
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if current is not None:
            current.append(line)
            if line.startswith("-----END"):
                blocks.append("\n".join(current) + "\n")
                current = None
            continue
        if line.startswith("-----BEGIN"):
            current = [line]
        elif line.startswith("@cert-authority"):
            ssh_cas.append(line)
        elif not ssh_cert and _is_ssh_cert_line(line):
            ssh_cert = line
    if current is not None:
        raise CredentialsError(f"identity file {source}: invalid PEM block (fragment)")
    return blocks, ssh_cert, tuple(ssh_cas)


def _public_der(key) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _describe(
    cert_pem: bytes,
    key_pem: bytes,
    ca_pem: bytes,
    source: str,
    labels: tuple[str, str, str],
) -> Credentials:
    """Parse all three parts now: a bad one is a clear start-up error, not a TLS failure.

    `labels` say where the key, the certificate and the CAs came from, for the messages.
    """
    key_label, cert_label, ca_label = labels
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        raise CredentialsError(f"{cert_label}: the TLS certificate cannot be parsed") from None
    try:
        x509.load_pem_x509_certificates(ca_pem)
    except ValueError:
        raise CredentialsError(f"{ca_label}: the CA certificates cannot be parsed") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # TypeError: the key is encrypted (Teleport never writes encrypted keys).
        raise CredentialsError(
            f"{key_label}: the private key cannot be parsed (or is encrypted)"
        ) from None
    try:
        cert_public = _public_der(cert.public_key())
    except (ValueError, UnsupportedAlgorithm):
        raise CredentialsError(f"{cert_label}: unsupported TLS certificate key") from None
    if _public_der(key.public_key()) != cert_public:
        raise CredentialsError(
            f"{key_label}: the private key does not belong to the TLS certificate"
            + ("" if cert_label == key_label else f" ({cert_label})")
        )
    subject = cert.subject
    user = next((a.value for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)), "")
    cluster = next((a.value for a in subject.get_attributes_for_oid(TELEPORT_CLUSTER_OID)), "")
    if not cluster:
        cluster = next(
            (a.value for a in cert.issuer.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)), ""
        )
    return Credentials(
        key_pem=key_pem,
        cert_pem=cert_pem,
        ca_pem=ca_pem,
        source=source,
        not_after=cert.not_valid_after_utc,
        user=str(user),
        cluster=str(cluster),
    )


def load_identity_file(path: str) -> Credentials:
    """Read an identity file: first PEM block = key, second = TLS cert, the rest = CAs."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CredentialsError(f"identity file {path} does not exist") from None
    except OSError as exc:
        raise CredentialsError(f"cannot read identity file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CredentialsError(
            f"identity file {path} is not an identity file (not text; expected PEM blocks "
            "written by `tctl auth sign` or tbot)"
        ) from None
    blocks, ssh_cert, ssh_cas = _identity_parts(text, path)
    if len(blocks) < 3:
        raise CredentialsError(
            f"identity file {path} must hold a private key, a TLS certificate and at least "
            f"one CA certificate (found {len(blocks)} PEM blocks)"
        )
    key, cert, *cas = blocks
    label = f"identity file {path}"
    creds = _describe(
        cert.encode(), key.encode(), "".join(cas).encode(), path, (label, label, label)
    )
    return dataclasses.replace(creds, ssh_cert=ssh_cert, ssh_cas=ssh_cas)


def load_tls_triple(key_path: str, crt_path: str, cas_path: str) -> Credentials:
    """Read the `tctl auth sign --format=tls` files (auth.key, auth.crt, auth.cas)."""
    parts = []
    for name, p in (("client_key", key_path), ("client_crt", crt_path), ("root_cas", cas_path)):
        try:
            parts.append(Path(p).read_bytes())
        except OSError as exc:
            raise CredentialsError(
                f"cannot read teleport.{name} {p}: {exc.strerror or exc}"
            ) from None
    key, crt, cas = parts
    labels = (
        f"teleport.client_key {key_path}",
        f"teleport.client_crt {crt_path}",
        f"teleport.root_cas {cas_path}",
    )
    return _describe(crt, key, cas, crt_path, labels)


def load_credentials(cfg: TeleportConfig) -> Credentials:
    """Load whichever credentials the config names; refuse expired ones like the plugin."""
    if cfg.identity:
        creds = load_identity_file(cfg.identity)
    elif cfg.client_crt:
        creds = load_tls_triple(cfg.client_key, cfg.client_crt, cfg.root_cas)
    else:
        raise CredentialsError("no credentials configured")
    if creds.expired:
        raise CredentialsError(EXPIRED_MESSAGE)
    return creds


class CredentialSource:
    """Hands out the current credentials; re-reads the identity file when it changes.

    With `refresh_identity` (tbot renews the file every 20 minutes), the file is checked at
    most once per interval; a broken file keeps the old credentials (as the plugin does)
    so a half-written renewal never takes the watcher down. New credentials only affect
    new connections; the caller rebuilds its channel when `generation` changes.
    """

    def __init__(self, cfg: TeleportConfig) -> None:
        self._cfg = cfg
        self._lock = threading.Lock()  # guards _creds/_mtime/_checked: watcher + audit threads
        self._creds = load_credentials(cfg)
        self._mtime = self._file_mtime()
        self._checked = time.monotonic()
        self.generation = 0

    def _file_mtime(self) -> float:
        try:
            return os.stat(self._cfg.identity).st_mtime if self._cfg.identity else 0.0
        except OSError:
            return 0.0

    def current(self) -> Credentials:
        if not (self._cfg.refresh_identity and self._cfg.identity):
            return self._creds
        with self._lock:
            interval = self._cfg.refresh_identity_interval.total_seconds()
            if time.monotonic() - self._checked >= interval:
                self._checked = time.monotonic()
                mtime = self._file_mtime()
                if mtime != self._mtime:
                    try:
                        self._creds = load_identity_file(self._cfg.identity)
                        self._mtime = mtime
                        self.generation += 1
                        log.info(
                            "Reloaded identity file %s (valid until %s)",
                            self._cfg.identity,
                            self._creds.not_after.isoformat(),
                        )
                    except CredentialsError as exc:
                        log.error("Failed to reload identity file from disk. %s", exc)
            return self._creds

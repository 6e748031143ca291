"""Mattermost's signed trigger_id: independent proof of who clicked, and when.

Format (Mattermost model/integration_action.go): base64 of "clientId:userId:millis:" plus
the base64 ECDSA-P256 (ASN.1) signature over SHA-256 of "clientId:userId:millis". The public
key is `AsymmetricSigningPublicKey` in the limited client config (no login). Not a documented
integration contract, so the check is on only when the server publishes the key.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from notifications.mattermost.client import MattermostClient
from notifications.mattermost.errors import MattermostError

MAX_AGE_MS = 120_000
REFETCH_SECONDS = 60.0


@dataclass(frozen=True)
class Trigger:
    client_id: str
    user_id: str
    millis: int


class _KeyCache:
    """The server's public key, refetched at most once a minute (on a failed check)."""

    def __init__(self) -> None:
        # Guards key/fetched_at: request threads share one cache.
        self._lock = threading.Lock()
        self.key: ec.EllipticCurvePublicKey | None = None
        self.fetched_at = -REFETCH_SECONDS
        self.published = True

    def get(
        self, client: MattermostClient, *, refresh: bool = False
    ) -> ec.EllipticCurvePublicKey | None:
        with self._lock:
            due = time.monotonic() - self.fetched_at >= REFETCH_SECONDS
            if self.key is not None and not (refresh and due):
                return self.key
            if not due and self.key is None and not self.published:
                return None
            self.fetched_at = time.monotonic()
        try:
            raw = str(client.get_client_config().get("AsymmetricSigningPublicKey") or "")
        except MattermostError:
            return self.key
        key = None
        if raw:
            try:
                loaded = serialization.load_der_public_key(base64.b64decode(raw))
                key = loaded if isinstance(loaded, ec.EllipticCurvePublicKey) else None
            except (ValueError, binascii.Error):
                key = None
        with self._lock:
            self.key, self.published = key, key is not None
        return key


_keys = _KeyCache()


def reset() -> None:
    global _keys
    _keys = _KeyCache()


def _decode(trigger_id: str, key: ec.EllipticCurvePublicKey) -> Trigger | None:
    try:
        text = base64.b64decode(trigger_id, validate=True).decode()
        client_id, user_id, millis, sig = text.split(":", 3)
        key.verify(
            base64.b64decode(sig, validate=True),
            f"{client_id}:{user_id}:{millis}".encode(),
            ec.ECDSA(hashes.SHA256()),
        )
        return Trigger(client_id, user_id, int(millis))
    except (ValueError, binascii.Error, UnicodeDecodeError, InvalidSignature):
        return None


def verify(client: MattermostClient, trigger_id: str, user_id: str) -> Trigger | bool | None:
    """The verified trigger; None when it fails; True when the server publishes no key."""
    key = _keys.get(client)
    if key is None:
        return True  # nothing to check against: the MAC and the nonce still hold
    found = _decode(trigger_id, key)
    if found is None:
        fresh = _keys.get(client, refresh=True)  # the server may have rotated its key
        found = _decode(trigger_id, fresh) if fresh is not None and fresh is not key else None
    if found is None or found.user_id != user_id:
        return None
    age = time.time() * 1000 - found.millis
    if age > MAX_AGE_MS or age < -MAX_AGE_MS:
        return None
    return found

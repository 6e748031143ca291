"""In-memory audit log answering ``GetEvents`` like Teleport's.

Why keep it faithful: the bridge's audit import depends on the awkward bits, namely the wire
order quirk (0 = oldest first), opaque paging keys, the ``[StartDate, EndDate)`` window, the
500/10000 limits, and items of event types our trimmed proto does not declare (they must be
skipped, not crash the importer).
"""

from __future__ import annotations

import base64
import datetime as dt
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from google.protobuf.timestamp_pb2 import Timestamp

from simulators.teleport.errors import BadParameter
from teleportbridge.teleport.proto import events_pb2

#: Teleport's audit codes for access-request events.
CODES = {
    "access_request.create": "T5000I",
    "access_request.update": "T5001I",
    "access_request.review": "T5002I",
    "access_request.delete": "T5003I",
    "access_request.search": "T5004I",
    "access_request.expire": "T5005I",
}
DEFAULT_LIMIT = 500
MAX_LIMIT = 10000
#: OneOf field number of AccessRequestResourceSearch, absent from our trimmed proto.
_UNKNOWN_FIELD = 88


def ts(value: dt.datetime) -> Timestamp:
    """datetime (aware) -> protobuf Timestamp."""
    out = Timestamp()
    out.FromDatetime(value.astimezone(dt.UTC))
    return out


def _nanos(value: Timestamp) -> int:
    return value.seconds * 1_000_000_000 + value.nanos


@dataclass(frozen=True)
class AuditRecord:
    """A stored item plus the fields GetEvents filters on (also valid for unknown types)."""

    seq: int
    event_type: str
    event_id: str
    time_ns: int
    item: events_pb2.OneOf


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _length_delimited(field_number: int, payload: bytes) -> bytes:
    return _varint(field_number << 3 | 2) + _varint(len(payload)) + payload


class AuditLog:
    """Append-only list of events.OneOf items; thread-safe."""

    def __init__(self, cluster_name: str, clock: Callable[[], dt.datetime]) -> None:
        self.cluster_name = cluster_name
        self._clock = clock
        # Guards _records and _seq: server threads search while tests/handlers append.
        self._lock = threading.Lock()
        self._records: list[AuditRecord] = []
        self._seq = 0

    @property
    def records(self) -> list[AuditRecord]:
        with self._lock:
            return list(self._records)

    def _metadata(
        self, md: events_pb2.Metadata, event_type: str, when: dt.datetime | None
    ) -> tuple[int, str, int]:
        """Fill the common Metadata; returns (seq, id, time in ns). Caller holds the lock."""
        self._seq += 1
        event_id = str(uuid.uuid4())
        md.Index = self._seq
        md.Type = event_type
        md.ID = event_id
        md.Code = CODES.get(event_type, "")
        md.Time.CopyFrom(ts(when or self._clock()))
        md.ClusterName = self.cluster_name
        return self._seq, event_id, _nanos(md.Time)

    def _store(
        self, item: events_pb2.OneOf, md: events_pb2.Metadata, when: dt.datetime | None
    ) -> str:
        with self._lock:
            seq, event_id, time_ns = self._metadata(md, md.Type, when)
            self._records.append(AuditRecord(seq, md.Type, event_id, time_ns, item))
        return event_id

    def emit_request_event(
        self,
        event_type: str,
        request_id: str,
        *,
        user: str = "",
        roles: Sequence[str] = (),
        state: str = "",
        reason: str = "",
        reviewer: str = "",
        proposed_state: str = "",
        delegator: str = "",
        submitted_by: str = "",
        resources: Iterable[tuple[str, str, str]] = (),
        expires: dt.datetime | None = None,
        time: dt.datetime | None = None,
    ) -> str:
        """Store an AccessRequestCreate-shaped event (create/update/review); returns its ID.

        ``resources`` are (cluster, kind, name) triples. Any request id is accepted, including
        ones that never existed, so tests can feed the importer odd histories.
        """
        item = events_pb2.OneOf()
        ev = item.AccessRequestCreate
        ev.Metadata.Type = event_type
        ev.User.User = user
        ev.Resource.Name = request_id
        if expires is not None:
            ev.Resource.Expires.CopyFrom(ts(expires))
        ev.Roles.extend(roles)
        ev.RequestID = request_id
        ev.RequestState = state
        ev.Reason = reason
        ev.Reviewer = reviewer
        ev.ProposedState = proposed_state
        ev.Delegator = delegator
        ev.SubmittedBy = submitted_by
        for cluster, kind, name in resources:
            ev.RequestedResourceIDs.add(ClusterName=cluster, Kind=kind, Name=name)
        return self._store(item, ev.Metadata, time)

    def emit_delete(
        self, request_id: str, *, user: str = "", time: dt.datetime | None = None
    ) -> str:
        """Store an access_request.delete (AccessRequestDelete) event; returns its ID."""
        item = events_pb2.OneOf()
        ev = item.AccessRequestDelete
        ev.Metadata.Type = "access_request.delete"
        ev.User.User = user
        ev.RequestID = request_id
        return self._store(item, ev.Metadata, time)

    def emit_expire(
        self,
        request_id: str,
        *,
        expires: dt.datetime | None = None,
        time: dt.datetime | None = None,
    ) -> str:
        """Store an access_request.expire (AccessRequestExpire) event; returns its ID."""
        item = events_pb2.OneOf()
        ev = item.AccessRequestExpire
        ev.Metadata.Type = "access_request.expire"
        ev.Resource.Name = request_id
        ev.RequestID = request_id
        if expires is not None:
            ev.ResourceExpiry.CopyFrom(ts(expires))
        return self._store(item, ev.Metadata, time)

    def emit_unknown(
        self, event_type: str = "access_request.search", *, time: dt.datetime | None = None
    ) -> str:
        """Store an item of a type the trimmed proto lacks: it parses with no oneof member set
        (the payload sits in an unknown field, as an AccessRequestResourceSearch would)."""
        with self._lock:
            md = events_pb2.Metadata()
            seq, event_id, time_ns = self._metadata(md, event_type, time)
            raw = _length_delimited(_UNKNOWN_FIELD, _length_delimited(1, md.SerializeToString()))
            item = events_pb2.OneOf.FromString(raw)
            self._records.append(AuditRecord(seq, event_type, event_id, time_ns, item))
        return event_id

    def add_item(self, item: events_pb2.OneOf, event_type: str, time: dt.datetime) -> None:
        """Store a caller-built item verbatim (its Metadata is not touched)."""
        with self._lock:
            self._seq += 1
            self._records.append(AuditRecord(self._seq, event_type, "", _nanos(ts(time)), item))

    # -- search -----------------------------------------------------------------------------

    @staticmethod
    def _key(record: AuditRecord) -> str:
        return base64.urlsafe_b64encode(f"sim-audit:{record.seq}".encode()).decode()

    @staticmethod
    def _parse_key(key: str) -> int:
        try:
            text = base64.urlsafe_b64decode(key.encode()).decode()
            prefix, seq = text.split(":", 1)
            if prefix != "sim-audit":
                raise ValueError(prefix)
            return int(seq)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadParameter(f"invalid start key {key!r}") from exc

    def search(
        self,
        start: Timestamp,
        end: Timestamp,
        event_types: Sequence[str],
        limit: int,
        start_key: str,
        wire_order: int,
    ) -> tuple[list[events_pb2.OneOf], str]:
        """GetEvents: items with start <= time < end, paged; returns (items, last_key).

        ``wire_order`` 0 = oldest first, 1 = newest first (Teleport's Go enum cast, see the
        reference). ``last_key`` is set whenever the page is full, so an exact multiple of
        ``limit`` ends with one empty page, as real backends do.
        """
        if limit > MAX_LIMIT:
            raise BadParameter(f"limit {limit} exceeds the maximum of {MAX_LIMIT}")
        if limit <= 0:
            limit = DEFAULT_LIMIT
        lo, hi = _nanos(start), _nanos(end)
        types = set(event_types)
        with self._lock:
            matching = [
                r
                for r in self._records
                if lo <= r.time_ns < hi and (not types or r.event_type in types)
            ]
        matching.sort(key=lambda r: (r.time_ns, r.seq), reverse=wire_order == 1)
        pos = 0
        if start_key:
            after = self._parse_key(start_key)
            pos = next((i + 1 for i, r in enumerate(matching) if r.seq == after), len(matching))
        page = matching[pos : pos + limit]
        last_key = self._key(page[-1]) if len(page) == limit else ""
        items = []
        for record in page:
            copy = events_pb2.OneOf()
            copy.CopyFrom(record.item)
            items.append(copy)
        return items, last_key

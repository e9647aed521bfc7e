"""Verifying a log from its records and the services' public keys alone: no database.

A streaming verifier in three steps, the same for a live broker and an offline bundle:

1. :meth:`LogVerifier.add_checkpoint` for every record of the audit topics, in offset order:
   each checkpoint must be well formed, signed by a key trusted for its service (from the JWKS,
   or announced in an earlier checkpoint of that service: key rotation) and not retired, and
   must extend the previous one (sequence + 1, previous size and root equal to the previous
   checkpoint's). The last accepted checkpoint of a service is its *cut*: what this run
   verifies.
2. :meth:`LogVerifier.check_event` for every record of the event topics, in any order. A record
   of a service's topic must carry its leaf index (``audit-leaf`` header); below the cut, its
   leaf hash (topic, key, value) must match the 8-byte prefix the signed checkpoints list for
   that leaf. It returns whether the event may be folded into the rebuilt state: events that
   fail, and events newer than the cut (published after the last checkpoint read; counted, not
   verified), are kept out. Inbound topics (the finance systems') are not signed by the platform
   and are folded as they are (counted per topic).
3. :meth:`LogVerifier.finish` recomputes every service's tree from the leaf hashes seen and
   compares its root at every checkpoint size with the signed root; every leaf below the cut
   must have been seen (a deleted event is a missing leaf).

Memory is bounded by the cut, not by the events: 41 bytes per leaf (its hash, a state byte and
the signed prefix), allocated once the checkpoints are read. A live reader must read the audit
topics *before* the event topics: a relay publishes a checkpoint only after every event it covers
was acknowledged, so every leaf below the cut is then already on the log.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from audit import merkle
from audit.checkpoint import (
    EMPTY_ROOT_HEX, PREFIX_BYTES, CheckpointError, decode_prefixes, leaf_hash, parse,
    signature_valid,
)
from audit.keys import KeyFileError, Keyring
from contracts.audit import LEAF_HEADER
from contracts.topics import AUDIT_TOPICS, PLATFORM_SERVICES, base_name, emitting_service

# Violations this verifier reports (the "invariant" of each), for the README's table.
CHECKPOINT_MALFORMED = "checkpoint_malformed"
CHECKPOINT_SIGNATURE_INVALID = "checkpoint_signature_invalid"
CHECKPOINT_UNKNOWN_KEY = "checkpoint_unknown_key"
CHECKPOINT_RETIRED_KEY = "checkpoint_retired_key"
CHECKPOINT_CHAIN_BROKEN = "checkpoint_chain_broken"
CHECKPOINT_ROOT_MISMATCH = "checkpoint_root_mismatch"
EVENT_NOT_CHECKPOINTED = "event_not_checkpointed"
EVENT_ALTERED = "event_altered"
EVENT_MISSING = "event_missing"
HISTORY_REWRITTEN = "history_rewritten"
BUNDLE_ALTERED = "bundle_altered"

VERIFICATION_CODES: dict[str, str] = {
    CHECKPOINT_MALFORMED: "a record on an audit topic is not a well-formed signed checkpoint "
                          "(or lists a wrong number of leaf prefixes)",
    CHECKPOINT_SIGNATURE_INVALID: "a checkpoint's Ed25519 signature does not verify under the "
                                  "key it names (a forged or altered checkpoint)",
    CHECKPOINT_UNKNOWN_KEY: "a checkpoint is signed by a key that is neither in the JWKS for its "
                            "service nor announced by an earlier checkpoint of that service",
    CHECKPOINT_RETIRED_KEY: "a checkpoint is signed by a key its service stopped using (after a "
                            "rotation, the old key signs nothing more)",
    CHECKPOINT_CHAIN_BROKEN: "a checkpoint does not extend the previous one: a sequence number "
                             "missing or repeated with other content, or a previous size/root "
                             "that differs (rewritten history)",
    CHECKPOINT_ROOT_MISMATCH: "the tree rebuilt from the events on the log has another root "
                              "than a signed checkpoint of that size",
    EVENT_NOT_CHECKPOINTED: "an event on a service's topic carries no valid leaf index, so no "
                            "signed checkpoint covers it (injected, or published around the "
                            "outbox)",
    EVENT_ALTERED: "an event's bytes (topic, key, value) differ from the leaf its service "
                   "signed; names the first such event in the service's publish order",
    EVENT_MISSING: "a leaf below a signed tree size is not on the log: an event was deleted",
    HISTORY_REWRITTEN: "a checkpoint verified in an earlier audit is not on the log as it was "
                       "(the history was truncated or rewritten since)",
    BUNDLE_ALTERED: "a file of an offline bundle is missing, differs from the SHA-256 its "
                    "manifest lists, or is not listed",
}

RULE = "R23"
# By the contracts' names: a namespace (contracts.topics) prefixes the names on the log.
_AUDIT_TOPIC_SERVICE = {t.base_name: t.base_name.split(".")[1] for t in AUDIT_TOPICS}
_UNSEEN, _SEEN, _BAD = 0, 1, 2
_NO_PREFIX = bytes(PREFIX_BYTES)
_UNKNOWN: Any = object()


class Record(Protocol):
    """What the verifier needs of a log record (``servicekit.log_reader.LogRecord`` and
    ``audit.bundle.BundleRecord`` both are)."""

    # read-only (properties), so that frozen dataclasses and named tuples conform
    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


@dataclass(frozen=True)
class CheckpointInfo:
    service: str
    sequence: int
    tree_size: int
    root_hash: str
    previous_tree_size: int
    previous_root_hash: str
    issued_at: str
    key_id: str
    partition: int
    offset: int

    def to_json(self) -> dict[str, Any]:
        return {"service": self.service, "sequence": self.sequence, "tree_size": self.tree_size,
                "root_hash": self.root_hash, "issued_at": self.issued_at,
                "key_id": self.key_id, "partition": self.partition, "offset": self.offset}


@dataclass
class ServiceReport:
    service: str
    checkpoints: int = 0
    duplicates: int = 0
    cut: CheckpointInfo | None = None
    last_verified: CheckpointInfo | None = None
    events_verified: int = 0
    events_after_cut: int = 0
    keys: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"service": self.service, "checkpoints": self.checkpoints,
                "tree_size": self.cut.tree_size if self.cut else 0,
                "last_verified": self.last_verified.to_json() if self.last_verified else None,
                "events_verified": self.events_verified,
                "events_after_last_checkpoint": self.events_after_cut,
                "keys": self.keys, "notes": self.notes}


@dataclass
class VerificationReport:
    services: dict[str, ServiceReport]
    violations: list[dict[str, Any]]
    inbound: dict[str, int]

    @property
    def verified(self) -> bool:
        return not self.violations

    def to_json(self) -> dict[str, Any]:
        return {"verified": self.verified,
                "services": {s: r.to_json() for s, r in sorted(self.services.items())},
                "inbound_unsigned": dict(sorted(self.inbound.items())),
                "violations": self.violations}


class _Found:
    """Per (invariant, service): how many, and the first by a sort key."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], tuple[Any, dict[str, Any], int]] = {}

    def add(self, invariant: str, service: str, order: Any, violation: dict[str, Any]) -> None:
        key = (invariant, service)
        current = self.items.get(key)
        if current is None:
            self.items[key] = (order, violation, 1)
        elif order < current[0]:
            self.items[key] = (order, violation, current[2] + 1)
        else:
            self.items[key] = (current[0], current[1], current[2] + 1)

    def violations(self) -> list[dict[str, Any]]:
        out = []
        for (_invariant, _service), (_order, violation, count) in sorted(
                self.items.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            out.append({**violation, "count": count})
        return out


def _violation(invariant: str, service: str, message: str, **where: Any) -> dict[str, Any]:
    return {"invariant": invariant, "rule": RULE, "service": service, "message": message,
            **where}


def _event_id(value: bytes) -> str | None:
    try:
        data = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return None
    event_id = data.get("event_id") if isinstance(data, dict) else None
    return str(event_id) if event_id is not None else None


def _leaf_index(record: Record) -> int | None:
    for name, raw in record.headers:
        if name == LEAF_HEADER:
            try:
                text = raw.decode("ascii")
            except UnicodeDecodeError:
                return None
            if text.isdigit() and len(text) <= 15:
                return int(text)
            return None
    return None


class _ServiceState:
    def __init__(self, service: str, keyring: Keyring) -> None:
        self.service = service
        self.keyring = keyring
        self.report = ServiceReport(service)
        self.accepted: list[CheckpointInfo] = []
        self.bodies: dict[int, bytes] = {}  # sequence → canonical record (duplicates)
        self.kept: dict[int, bytes] = {}  # sequence → record value (keep_checkpoints)
        self.announcements: list[int] = []  # sequences that announce a key
        self.prefix_chunks: list[tuple[int, bytes]] = []
        self.current_kid: str | None = None
        self.retired: set[str] = set()
        self.cut = 0
        self.hashes = bytearray()
        self.state = bytearray()
        self.prefixes = bytearray()

    @property
    def last(self) -> CheckpointInfo | None:
        return self.accepted[-1] if self.accepted else None


class LogVerifier:
    """See the module docstring. ``previous`` are checkpoints an earlier audit verified
    (``CheckpointInfo.to_json`` dicts): each must still be on the log, unchanged."""

    def __init__(self, keyring: Keyring, *, services: Iterable[str] = PLATFORM_SERVICES,
                 previous: Iterable[dict[str, Any]] = (), keep_checkpoints: bool = False) -> None:
        self.keyring = keyring.copy()  # announced keys are added to this run's copy only
        self.keep_checkpoints = keep_checkpoints  # for proofs: the accepted records' bytes
        self.services = {s: _ServiceState(s, self.keyring) for s in services}
        self.previous = list(previous)
        self.found = _Found()
        self.inbound: dict[str, int] = {}
        self._by_topic: dict[str, _ServiceState | None] = {}
        self._events_started = False

    # -- 1. checkpoints ------------------------------------------------------------------------

    def add_checkpoint(self, record: Record) -> None:
        if self._events_started:
            raise RuntimeError("every checkpoint is read before the first event")
        service = _AUDIT_TOPIC_SERVICE.get(base_name(record.topic))
        st = self.services.get(service) if service else None
        if st is None or service is None:
            return
        where = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
        order = (record.partition, record.offset)
        try:
            signed, body = parse(record.value)
        except CheckpointError as exc:
            self.found.add(CHECKPOINT_MALFORMED, service, order,
                           _violation(CHECKPOINT_MALFORMED, service, str(exc), **where))
            return
        cp = signed.checkpoint
        where["checkpoint"] = cp.sequence
        if cp.service != service:
            self.found.add(CHECKPOINT_CHAIN_BROKEN, service, order, _violation(
                CHECKPOINT_CHAIN_BROKEN, service,
                f"a checkpoint of {cp.service!r} on {service}'s audit topic", **where))
            return
        last = st.last
        if last is not None and cp.sequence <= last.sequence:
            if st.bodies.get(cp.sequence) == record.value:
                st.report.duplicates += 1  # the relay re-published it after a crash
                return
            self.found.add(CHECKPOINT_CHAIN_BROKEN, service, order, _violation(
                CHECKPOINT_CHAIN_BROKEN, service,
                f"checkpoint #{cp.sequence} again, with other content, after #{last.sequence}",
                **where))
            return
        trusted = self.keyring.get(cp.key_id)
        if trusted is None or trusted.service != service:
            self.found.add(CHECKPOINT_UNKNOWN_KEY, service, order, _violation(
                CHECKPOINT_UNKNOWN_KEY, service,
                f"checkpoint #{cp.sequence} is signed by key {cp.key_id!r}, which is not a "
                f"known key of {service}", **where))
            return
        if cp.key_id in st.retired:
            self.found.add(CHECKPOINT_RETIRED_KEY, service, order, _violation(
                CHECKPOINT_RETIRED_KEY, service,
                f"checkpoint #{cp.sequence} is signed by {cp.key_id}, retired when {service} "
                f"moved to {st.current_kid}", **where))
            return
        if not signature_valid(body, signed.signature, trusted.key):
            self.found.add(CHECKPOINT_SIGNATURE_INVALID, service, order, _violation(
                CHECKPOINT_SIGNATURE_INVALID, service,
                f"checkpoint #{cp.sequence}: the signature does not verify under "
                f"{cp.key_id} (forged or altered)", **where))
            return
        try:
            added = decode_prefixes(cp.added)
        except ValueError as exc:
            self.found.add(CHECKPOINT_MALFORMED, service, order,
                           _violation(CHECKPOINT_MALFORMED, service, str(exc), **where))
            return
        if (cp.tree_size < cp.previous_tree_size
                or len(added) != PREFIX_BYTES * (cp.tree_size - cp.previous_tree_size)):
            self.found.add(CHECKPOINT_MALFORMED, service, order, _violation(
                CHECKPOINT_MALFORMED, service,
                f"checkpoint #{cp.sequence} adds {len(added) // PREFIX_BYTES} leaf prefixes "
                f"for sizes {cp.previous_tree_size} → {cp.tree_size}", **where))
            return
        expected_seq = last.sequence + 1 if last else 1
        expected_prev = (last.tree_size, last.root_hash) if last else (0, EMPTY_ROOT_HEX)
        if cp.sequence != expected_seq:
            self.found.add(CHECKPOINT_CHAIN_BROKEN, service, order, _violation(
                CHECKPOINT_CHAIN_BROKEN, service,
                f"checkpoint #{cp.sequence} follows #{expected_seq - 1}: "
                f"{cp.sequence - expected_seq} checkpoint(s) missing from the audit topic",
                **where))
        elif (cp.previous_tree_size, cp.previous_root_hash) != expected_prev:
            self.found.add(CHECKPOINT_CHAIN_BROKEN, service, order, _violation(
                CHECKPOINT_CHAIN_BROKEN, service,
                f"checkpoint #{cp.sequence} says the previous tree was "
                f"{cp.previous_tree_size} leaves with root {cp.previous_root_hash[:16]}…, "
                f"checkpoint #{expected_seq - 1} signed {expected_prev[0]} with "
                f"{expected_prev[1][:16]}… (rewritten history)", **where))
        # Signed by the service: accepted, gaps and all; the leaves decide at the end.
        if st.current_kid is not None and cp.key_id != st.current_kid:
            st.retired.add(st.current_kid)
            announced = cp.key_id in st.report.keys
            if not announced:
                st.report.notes.append(
                    f"key {cp.key_id} first signs checkpoint #{cp.sequence} without an "
                    f"announcement: trusted because the JWKS lists it")
        st.current_kid = cp.key_id
        if cp.key_id not in st.report.keys:
            st.report.keys.append(cp.key_id)
        if cp.next_key is not None:
            if cp.next_key.grants_service != service:
                self.found.add(CHECKPOINT_CHAIN_BROKEN, service, order, _violation(
                    CHECKPOINT_CHAIN_BROKEN, service,
                    f"checkpoint #{cp.sequence} announces a key of "
                    f"{cp.next_key.grants_service!r}", **where))
            else:
                try:
                    self.keyring.add(cp.next_key)
                    st.report.keys.append(cp.next_key.kid)
                    st.report.notes.append(f"checkpoint #{cp.sequence} announces key "
                                           f"{cp.next_key.kid} (signed by {cp.key_id})")
                except KeyFileError as exc:
                    self.found.add(CHECKPOINT_MALFORMED, service, order, _violation(
                        CHECKPOINT_MALFORMED, service, str(exc), **where))
        info = CheckpointInfo(service, cp.sequence, cp.tree_size, cp.root_hash,
                              cp.previous_tree_size, cp.previous_root_hash,
                              cp.issued_at.isoformat().replace("+00:00", "Z"), cp.key_id,
                              record.partition, record.offset)
        st.accepted.append(info)
        st.bodies[cp.sequence] = record.value
        if self.keep_checkpoints:
            st.kept[cp.sequence] = record.value
        if cp.next_key is not None:
            st.announcements.append(cp.sequence)
        st.report.checkpoints += 1
        if added:
            st.prefix_chunks.append((cp.previous_tree_size, added))

    # -- 2. events -----------------------------------------------------------------------------

    def begin_events(self) -> None:
        if self._events_started:
            return
        self._events_started = True
        for st in self.services.values():
            st.cut = max((c.tree_size for c in st.accepted), default=0)
            st.report.cut = max(st.accepted, key=lambda c: c.tree_size, default=None)
            st.hashes = bytearray(merkle.HASH_SIZE * st.cut)
            st.state = bytearray(st.cut)
            st.prefixes = bytearray(PREFIX_BYTES * st.cut)
            for start, chunk in st.prefix_chunks:
                end = min(len(st.prefixes), PREFIX_BYTES * start + len(chunk))
                st.prefixes[PREFIX_BYTES * start:end] = chunk[:end - PREFIX_BYTES * start]
            st.prefix_chunks = []
            st.bodies = {}
        self._check_previous()

    def check_event(self, record: Record) -> bool:
        """Whether the event may be folded into the rebuilt state (see the module docstring).
        The hot path of every replay: one hash per event, slices of preallocated buffers."""
        if not self._events_started:
            self.begin_events()
        topic = record.topic
        st = self._by_topic.get(topic, _UNKNOWN)
        if st is _UNKNOWN:
            service = emitting_service(topic)
            st = self._by_topic[topic] = self.services.get(service) if service else None
        if st is None:
            self.inbound[topic] = self.inbound.get(topic, 0) + 1
            return True
        index = _leaf_index(record)
        if index is None:
            self.found.add(EVENT_NOT_CHECKPOINTED, st.service,
                           (topic, record.partition, record.offset), _violation(
                               EVENT_NOT_CHECKPOINTED, st.service,
                               "event without a valid audit-leaf index: no signed checkpoint "
                               "covers it", topic=topic, partition=record.partition,
                               offset=record.offset, event_id=_event_id(record.value)))
            return False
        if index >= st.cut:
            st.report.events_after_cut += 1
            return False
        h = leaf_hash(topic, record.key, record.value)
        p = PREFIX_BYTES * index
        expected = st.prefixes[p:p + PREFIX_BYTES]
        state = st.state[index]
        at = merkle.HASH_SIZE * index
        if state == _UNSEEN and (expected == h[:PREFIX_BYTES] or expected == _NO_PREFIX):
            st.hashes[at:at + merkle.HASH_SIZE] = h
            st.state[index] = _SEEN
            return True
        if state == _SEEN and st.hashes[at:at + merkle.HASH_SIZE] == h:
            return True  # the same event published twice (a relay retry): the fold dedups
        if state == _BAD and expected == h[:PREFIX_BYTES]:
            st.hashes[at:at + merkle.HASH_SIZE] = h  # the genuine one after an altered copy
            st.state[index] = _SEEN
            return True
        if state != _SEEN:
            st.state[index] = _BAD
        self.found.add(EVENT_ALTERED, st.service, index, _violation(
            EVENT_ALTERED, st.service,
            f"leaf {index} of {st.service}'s tree: these bytes are not the event "
            f"{st.service} signed (first bad event in publish order)", topic=topic,
            partition=record.partition, offset=record.offset, leaf_index=index,
            event_id=_event_id(record.value)))
        return False

    def leaf_hashes(self, service: str, size: int) -> list[bytes]:
        """The first ``size`` leaf hashes of a service's tree as read (after :meth:`finish`)."""
        h, n = self.services[service].hashes, merkle.HASH_SIZE
        return [bytes(h[n * i:n * (i + 1)]) for i in range(size)]

    def checkpoint_value(self, service: str, sequence: int) -> bytes:
        return self.services[service].kept[sequence]

    def announcements(self, service: str, up_to: int) -> list[bytes]:
        """The records that announced the service's keys, up to checkpoint ``up_to``."""
        st = self.services[service]
        return [st.kept[s] for s in st.announcements if s <= up_to and s in st.kept]

    # -- 3. the trees --------------------------------------------------------------------------

    def finish(self) -> VerificationReport:
        self.begin_events()
        for st in self.services.values():
            self._check_tree(st)
        return VerificationReport({s: st.report for s, st in self.services.items()},
                                  self.found.violations(), dict(self.inbound))

    def _check_tree(self, st: _ServiceState) -> None:
        checkpoints = sorted(st.accepted, key=lambda c: (c.tree_size, c.sequence))
        hashes = memoryview(st.hashes)  # read in place: a bytes copy was 32 B a leaf more
        state = st.state
        sha256 = hashlib.sha256
        n = merkle.HASH_SIZE
        edge: list[bytes] = []  # the frontier (merkle.Frontier), inlined: the hot loop
        size = 0
        broken_at: int | None = None
        verified: CheckpointInfo | None = None
        for cp in checkpoints:
            end = cp.tree_size
            if end > size:
                gap = min((state.find(b, size, end) for b in (b"\x00", b"\x02")),
                          key=lambda i: (i < 0, i))
                if gap >= 0:
                    broken_at = gap
                    break
                for i in range(size, end):
                    node = hashes[n * i:n * i + n].tobytes()
                    carry = i
                    while carry & 1:
                        node = sha256(b"\x01" + edge.pop() + node).digest()
                        carry >>= 1
                    edge.append(node)
                size = end
            root = merkle.Frontier(size, edge).root() if edge else merkle.EMPTY_ROOT
            if root.hex() != cp.root_hash:
                self.found.add(CHECKPOINT_ROOT_MISMATCH, st.service, cp.sequence, _violation(
                    CHECKPOINT_ROOT_MISMATCH, st.service,
                    f"the events on the log give {st.service}'s tree of {cp.tree_size} leaves "
                    f"another root than checkpoint #{cp.sequence} signed",
                    checkpoint=cp.sequence))
                break
            verified = cp
        if broken_at is not None and state[broken_at] == _UNSEEN:
            missing = state.count(_UNSEEN, broken_at)
            self.found.add(EVENT_MISSING, st.service, broken_at, _violation(
                EVENT_MISSING, st.service,
                f"leaf {broken_at} of {st.service}'s tree is not on the log ({missing} leaves "
                f"below the signed size {st.cut} are missing): deleted events",
                leaf_index=broken_at, missing=missing))
        st.report.last_verified = verified
        st.report.events_verified = verified.tree_size if verified else 0

    def _check_previous(self) -> None:
        for prev in self.previous:
            service = str(prev.get("service"))
            st = self.services.get(service)
            if st is None:
                continue
            same = next((c for c in st.accepted if c.sequence == prev.get("sequence")), None)
            if same is None or (same.tree_size, same.root_hash) != (
                    prev.get("tree_size"), prev.get("root_hash")):
                seen = "is not on the log" if same is None else (
                    f"now says {same.tree_size} leaves with root {same.root_hash[:16]}…")
                self.found.add(HISTORY_REWRITTEN, service, prev.get("sequence"), _violation(
                    HISTORY_REWRITTEN, service,
                    f"checkpoint #{prev.get('sequence')} ({prev.get('tree_size')} leaves, root "
                    f"{str(prev.get('root_hash'))[:16]}…) verified earlier {seen}",
                    checkpoint=prev.get("sequence")))

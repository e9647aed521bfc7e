"""The auditors' replay (R23): rebuild every service's state from the event log and verify it.

From the log alone (no database): the audit topics are read first (every service's signed
checkpoints, verified with the services' public keys: ``audit.verify``), then every event topic
from offset 0 under its own consumer group with manual assignment (no effect on the live
services; ends found from the fetched high watermark). Each event is checked against its
service's signed tree and, when it verifies, folded with the replay projection
(``audit.replay``); the trees are recomputed at the end. For operators, the
services' hash-chained audit tables can be checked too (:func:`verify_chain`): every entry
linked and matching the event on the log. The same pipeline (:class:`VerifiedReplay`) runs over
an offline bundle (``grants audit verify``).
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import pydantic

from audit.bundle import Bundle, BundleWriter
from audit.keys import Keyring
from audit.merkle import MerkleTree
from audit.proof import ProvenEvent
from audit.proof import build as build_proof
from audit.verify import BUNDLE_ALTERED, LogVerifier, Record, VerificationReport
from contracts.audit import LEAF_HEADER
from contracts.registry import decode
from contracts.topic_manifest import refusal as manifest_refusal
from grants import dlt
from servicekit.consumer import error_code
from contracts.topics import (
    ALL_TOPICS, AUDIT_TOPICS, EVENT_TOPICS, TopicNames, emitting_service, namespaced,
)
from servicekit import audit_chain
from grants.stack import ALL_SERVICES
from servicekit.log_reader import LogReader
from audit.replay import LoggedEvent, Replay, ReplayResult, state_digest

SERVICES = ALL_SERVICES
AUDIT_TOPIC_NAMES = TopicNames(lambda: tuple(t.name for t in AUDIT_TOPICS))
DEAD_LETTER_TOPICS = TopicNames(
    lambda: tuple(t.dead_letter for t in ALL_TOPICS if t not in AUDIT_TOPICS))


@dataclass
class ChainReport:
    service: str
    entries: int = 0
    problem: dict[str, Any] | None = None


@dataclass
class AuditReport:
    replayed: ReplayResult
    chains: list[ChainReport]
    undecodable: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: VerificationReport | None = None
    # Inputs the platform did not process (dead letters; records an inbound topic does not
    # carry): reported with their origin and error code, never their content, and not
    # violations of R23 by themselves (issue 14).
    unprocessed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def violations(self) -> list[dict[str, Any]]:
        found = list(self.checkpoints.violations) if self.checkpoints else []
        found += [v.model_dump(mode="json") for v in self.replayed.violations]
        found += [c.problem for c in self.chains if c.problem]
        found += self.undecodable
        return found

    @property
    def verified(self) -> bool:
        return not self.violations

    def summary(self) -> dict[str, Any]:
        return {
            "verified": self.verified, "events": self.replayed.events,
            "violations": self.violations, "digest": state_digest(self.replayed),
            "checkpoints": self.checkpoints.to_json() if self.checkpoints else None,
            "chains": {c.service: c.entries for c in self.chains},
            "totals": self.replayed.totals.model_dump(), "counts": self.replayed.counts,
            "unprocessed_inputs": self.unprocessed,
        }


def stack_keyring(state: Any) -> Keyring | None:
    """The public checkpoint keys of an embedded stack (``StackState``), if it made them."""
    from grants.audit_keys import jwks_file
    from grants.stack import EmbeddedStack

    path = jwks_file(EmbeddedStack.audit_keys_dir(state))
    return Keyring.from_jwks(path.read_bytes()) if path.exists() else None


class VerifiedReplay:
    """Checkpoints first, then events in any order: each event checked against its service's
    signed tree and folded when it verifies. Fed by the live reader or by a bundle. Without a
    keyring nothing is checked against checkpoints (the replay of a log that has none)."""

    def __init__(self, keys: Keyring | None, *, previous: Iterable[dict[str, Any]] = (),
                 published: dict[str, str] | None = None,
                 keep: Callable[[Record, Any], None] | None = None) -> None:
        self.verifier = LogVerifier(keys, previous=previous) if keys is not None else None
        self.fold = Replay()
        self.undecodable: list[dict[str, Any]] = []
        self.unprocessed: list[dict[str, Any]] = []
        self.published = published
        self.keep = keep  # sees every folded record with its envelope (grants audit prove)
        self.refusal = manifest_verdicts()

    def checkpoint(self, record: Record) -> None:
        if self.verifier is not None:
            self.verifier.add_checkpoint(record)

    def events(self, records: Iterable[Record]) -> None:
        verifier, fold, published, keep = self.verifier, self.fold, self.published, self.keep
        for r in records:
            if verifier is not None and not verifier.check_event(r):
                continue
            try:
                envelope = decode(r.value, _header(r, "event_type"))
            except Exception as exc:  # noqa: BLE001 - whatever fails to decode is reported by its error code
                if emitting_service(r.topic) is None:  # an outside system's input (finance)
                    self.unprocessed.append(_unprocessed(r.topic, r.partition, r.offset,
                                                         error_code(exc), "not decodable"))
                    continue
                self.undecodable.append({
                    "invariant": "events_decodable", "rule": "R23", "topic": r.topic,
                    "partition": r.partition, "offset": r.offset,
                    "message": f"undecodable event ({error_code(exc)}): {_without_input(exc)}"})
                continue
            refused = self.refusal(r.topic, envelope.event_type, envelope.actor.role)
            if refused is not None:  # the consumers dead-letter it: no state came of it
                self.unprocessed.append(_unprocessed(r.topic, r.partition, r.offset, refused,
                                                     "not carried by its topic"))
                continue
            fold.apply(envelope, r.topic, r.partition, r.offset)
            if published is not None:
                published[str(envelope.event_id)] = hashlib.sha256(r.value).hexdigest()
            if keep is not None:
                keep(r, envelope)

    def finish(self) -> tuple[ReplayResult, VerificationReport | None]:
        """The verdicts; the fold is spent (``Replay.result(release=True)``: each application's
        facts are freed once its view is built, the views reuse their memory)."""
        checked = self.verifier.finish() if self.verifier is not None else None
        return self.fold.result(release=True), checked


def _unprocessed(topic: str, partition: int | None, offset: int | None, code: str,
                 what: str, consumer_group: str | None = None) -> dict[str, Any]:
    return {"topic": topic, "partition": partition, "offset": offset, "error_code": code,
            "consumer_group": consumer_group, "message": what}


def _without_input(error: BaseException) -> str:
    """What broke, naming fields and error types but never quoting input (it may be personal
    data: a CVR, a name)."""
    if isinstance(error, pydantic.ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(message)'}: {e['type']}"
                         for e in error.errors(include_url=False, include_input=False,
                                               include_context=False))[:300]
    return type(error).__name__


async def dead_letters(bootstrap: str, client_options: Mapping[str, Any] | None = None
                       ) -> list[dict[str, Any]]:
    """Every dead letter as an unprocessed input: its origin and error code, no content."""
    letters = await dlt.read_dead_letters(bootstrap, list(DEAD_LETTER_TOPICS),
                                          client_options=client_options)
    out = []
    for letter in letters:
        origin = letter.origin
        out.append(_unprocessed(origin["topic"], origin["partition"], origin["offset"],
                                letter.error_code, "dead-lettered",
                                origin["consumer_group"]))
    return out


def manifest_verdicts() -> Callable[[str, str, str], str | None]:
    """``contracts.topic_manifest.refusal``, remembered per (topic, event type, role) for one
    read of the log. The manifest reads the namespace from the environment on every call, ~6% of
    a replay's time; the namespace does not change during a read, and the triples are few
    (topics, registered event types and the roles the contracts allow)."""
    seen: dict[tuple[str, str, str], str | None] = {}

    def refusal(topic: str, event_type: str, role: str) -> str | None:
        key = (topic, event_type, role)
        if key not in seen:
            seen[key] = manifest_refusal(topic, event_type, role)
        return seen[key]

    return refusal


def _header(record: Record, name: str) -> str | None:
    return next((v.decode(errors="replace") for k, v in record.headers if k == name), None)


async def read_log(bootstrap: str, on_progress: Callable[[int, int], None] | None = None,
                   fold: Replay | None = None, published: dict[str, str] | None = None,
                   client_options: Mapping[str, Any] | None = None,
                   ) -> tuple[list[LoggedEvent], list[dict[str, Any]]]:
    """Read every event topic from offset 0, with no checkpoint verification. With ``fold``,
    events go straight into the replay and are not kept (the list comes back empty): memory
    stays flat however long the log. ``published`` collects event id → sha256 of the bytes on
    the log, for the chain check."""
    reader = LogReader(bootstrap, EVENT_TOPICS, group_prefix="grants-audit",
                       client_options=client_options)
    await reader.start()
    events: list[LoggedEvent] = []
    bad: list[dict[str, Any]] = []
    seen = 0
    refusal = manifest_verdicts()
    try:
        async for batch in reader.read_to_end():
            for r in batch:
                try:
                    envelope = decode(r.value, r.header("event_type"))
                except Exception as exc:  # noqa: BLE001 - whatever fails to decode is reported by its error code
                    if emitting_service(r.topic) is not None:  # inbound input: not a violation
                        bad.append({"invariant": "events_decodable", "rule": "R23",
                                    "topic": r.topic, "partition": r.partition,
                                    "offset": r.offset,
                                    "message": f"undecodable event ({error_code(exc)}): "
                                               f"{_without_input(exc)}"})
                    continue
                if refusal(r.topic, envelope.event_type, envelope.actor.role):
                    continue  # dead-lettered by every consumer: nothing came of it
                if fold is None:
                    events.append(LoggedEvent(envelope, r.topic, r.partition, r.offset))
                else:
                    fold.apply(envelope, r.topic, r.partition, r.offset)
                if published is not None:
                    published[str(envelope.event_id)] = hashlib.sha256(r.value).hexdigest()
            seen += len(batch)
            if on_progress:
                on_progress(seen, seen + reader.lag())
    finally:
        await reader.stop()
    return events, bad


async def read_verified(bootstrap: str, pipeline: VerifiedReplay,
                        on_progress: Callable[[int, int], None] | None = None,
                        client_options: Mapping[str, Any] | None = None,
                        on_record: Callable[[str, Record], None] | None = None) -> None:
    """The live read: every audit topic to its end, then every event topic (see the module
    docstring for why in this order). ``on_record(kind, record)`` sees each record too
    (``grants audit export`` writes them)."""
    checkpoints = LogReader(bootstrap, AUDIT_TOPIC_NAMES, group_prefix="grants-audit",
                            client_options=client_options)
    await checkpoints.start()
    try:
        async for batch in checkpoints.read_to_end():
            for r in sorted(batch, key=lambda r: (r.topic, r.partition, r.offset)):
                pipeline.checkpoint(r)
                if on_record is not None:
                    on_record("checkpoints", r)
    finally:
        await checkpoints.stop()
    reader = LogReader(bootstrap, EVENT_TOPICS, group_prefix="grants-audit",
                       client_options=client_options)
    await reader.start()
    seen = 0
    try:
        async for batch in reader.read_to_end():
            pipeline.events(batch)
            if on_record is not None:
                for r in batch:
                    on_record("events", r)
            seen += len(batch)
            if on_progress:
                on_progress(seen, seen + reader.lag())
    finally:
        await reader.stop()


async def verify_chain(pg_url: str, service: str, published: dict[str, str]) -> ChainReport:
    """Verify one service's chain; ``published`` maps event id → sha256 of its bytes on the log
    (an empty mapping checks the chain alone)."""
    report = ChainReport(service)
    try:
        conn = await asyncpg.connect(f"{pg_url.rstrip('/')}/{service}")
    except (asyncpg.InvalidCatalogNameError, OSError) as exc:
        report.problem = _chain_problem(service, None, None, f"audit table unreachable: {exc}")
        return report
    try:
        rows = await conn.fetch(
            "SELECT a.seq, a.event_id, a.entry, a.prev_hash, a.entry_hash,"
            " o.sent_at IS NOT NULL AS sent, o.value FROM audit_log a"
            " LEFT JOIN outbox o ON o.event_id = a.event_id ORDER BY a.seq")
    except asyncpg.UndefinedTableError:
        return report
    finally:
        await conn.close()
    entries = []
    for r in rows:
        entry = json.loads(r["entry"])
        entries.append(audit_chain.ChainEntry(r["seq"], str(r["event_id"]), entry, r["prev_hash"],
                                              r["entry_hash"]))
    report.entries = len(entries)
    broken = audit_chain.verify(entries)
    if broken:
        report.problem = _chain_problem(service, broken.seq, broken.event_id, broken.problem)
        return report
    for e, r in zip(entries, rows):
        # Every entry that was relayed must be on the log, byte for byte as recorded.
        on_log = published.get(e.event_id)
        if published and on_log is None and r["sent"]:
            report.problem = _chain_problem(service, e.seq, e.event_id,
                                            "audit entry's event is missing from the log")
            return report
        if on_log is not None and (on_log != e.entry.get("value_sha256")
                                   or e.entry["event"].get("event_id") != e.event_id):
            report.problem = _chain_problem(service, e.seq, e.event_id,
                                            "event on the log differs from its audit entry")
            return report
        # And the event the entry holds must be the one whose bytes it names (the outbox row the
        # relay published): an edited event under its old hash, chain re-hashed, shows here.
        if r["value"] is not None and (
                hashlib.sha256(r["value"]).hexdigest() != e.entry.get("value_sha256")
                or json.loads(r["value"]) != e.entry.get("event")):
            report.problem = _chain_problem(
                service, e.seq, e.event_id,
                "audit entry's event differs from the event the service published")
            return report
    return report


def _chain_problem(service: str, seq: int | None, event_id: str | None, message: str
                   ) -> dict[str, Any]:
    return {"invariant": "audit_chain_intact", "rule": "R23", "service": service, "seq": seq,
            "event_id": event_id, "message": message}


async def audit_replay(bootstrap: str, pg_url: str | None = None,
                       on_progress: Callable[[int, int], None] | None = None, *,
                       keys: Keyring | None = None, previous: Iterable[dict[str, Any]] = (),
                       client_options: Mapping[str, Any] | None = None) -> AuditReport:
    """The auditors' replay. ``keys``: the services' public checkpoint keys (the log is then
    verified from the topics alone); ``pg_url``: also check the services' hash chains (the
    operators' extra); ``previous``: checkpoints an earlier audit verified, which must still be
    on the log; ``client_options``: Kafka TLS/SASL arguments for a deployed platform
    (servicekit.kafka_security.client_kwargs of a read-only principal)."""
    published: dict[str, str] | None = {} if pg_url else None
    pipeline = VerifiedReplay(keys, previous=previous, published=published)
    # The fold builds millions of small long-lived objects and no reference cycles: the cyclic
    # collector would only walk them again and again (measured: 3x slower with it on).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        await read_verified(bootstrap, pipeline, on_progress, client_options)
        result, checked = pipeline.finish()
    finally:
        if gc_was_enabled:
            gc.enable()
    # each service's database as it names it (GRANTS_NAMESPACE prefixes it)
    chains = ([await verify_chain(pg_url, namespaced(s, "_"), published or {}) for s in SERVICES]
              if pg_url else [])
    unprocessed = pipeline.unprocessed + await dead_letters(bootstrap, client_options)
    return AuditReport(result, chains, pipeline.undecodable, checked, unprocessed)


# -- the offline bundle and one grant's proof ------------------------------------------------------

async def export_bundle(bootstrap: str, out: Path, jwks: dict[str, Any], *,
                        client_options: Mapping[str, Any] | None = None,
                        on_progress: Callable[[int, int], None] | None = None
                        ) -> dict[str, Any]:
    """Write the bundle (``audit.bundle``): checkpoints first, then events, then dead letters,
    each topic as it streams in; returns the manifest."""
    writer = BundleWriter(out)
    for t in AUDIT_TOPIC_NAMES:
        writer.touch("checkpoints", t)
    for t in EVENT_TOPICS:
        writer.touch("events", t)
    seen = 0
    for kind, topics in (("checkpoints", AUDIT_TOPIC_NAMES), ("events", EVENT_TOPICS),
                         ("dead-letters", DEAD_LETTER_TOPICS)):
        reader = LogReader(bootstrap, topics, group_prefix="grants-audit",
                           client_options=client_options)
        await reader.start()
        try:
            async for batch in reader.read_to_end():
                for r in batch:
                    writer.add(kind, r.topic, r.partition, r.offset, r.key, r.value, r.headers,
                               r.timestamp)
                seen += len(batch)
                if on_progress:
                    on_progress(seen, seen + reader.lag())
        finally:
            await reader.stop()
    return writer.close(jwks, {"created_at": datetime.now(UTC).isoformat().replace(
        "+00:00", "Z")})


def verify_bundle(bundle: Bundle, keys: Keyring, *, previous: Iterable[dict[str, Any]] = ()
                  ) -> AuditReport:
    """The whole verification of an offline bundle: no broker, no database. A file that differs
    from the manifest is a violation (``bundle_altered``) and the rest is verified anyway."""
    problems = bundle.check()
    pipeline = VerifiedReplay(keys, previous=previous)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for record in bundle.records("checkpoints"):
            pipeline.checkpoint(record)
        for batch in bundle.batches("events"):
            pipeline.events(batch)
        result, checked = pipeline.finish()
    finally:
        if gc_was_enabled:
            gc.enable()
    bad = [{"invariant": BUNDLE_ALTERED, "rule": "R23", "message": p} for p in problems]
    return AuditReport(result, [], [*bad, *pipeline.undecodable], checked)


async def prove_grant(bootstrap: str, application_id: UUID, keys: Keyring, *,
                      client_options: Mapping[str, Any] | None = None,
                      ) -> tuple[dict[str, Any] | None, AuditReport, int]:
    """One grant's proof file (``audit.proof``) against each service's last verified
    checkpoint; also the verification of the whole log it was read from, and how many of the
    grant's events could not be proven (inbound, or newer than the last checkpoint)."""
    app_key = str(application_id).encode()
    mine: list[tuple[Record, int | None]] = []

    def keep(record: Record, envelope: Any) -> None:
        if record.key == app_key or envelope.aggregate_id == str(application_id) or getattr(
                envelope.payload, "application_id", None) == application_id:
            index = next((int(v) for k, v in record.headers if k == LEAF_HEADER), None)
            mine.append((record, index))

    pipeline = VerifiedReplay(keys, keep=keep)
    assert pipeline.verifier is not None
    pipeline.verifier.keep_checkpoints = True
    await read_verified(bootstrap, pipeline, client_options=client_options)
    result, checked = pipeline.finish()
    report = AuditReport(result, [], pipeline.undecodable, checked)
    assert checked is not None
    events: list[ProvenEvent] = []
    unprovable = 0
    for record, index in mine:
        service = emitting_service(record.topic)
        last = checked.services[service].last_verified if service else None
        if service is None or index is None or last is None or index >= last.tree_size:
            unprovable += 1
            continue
        events.append(ProvenEvent(service, record.topic, record.partition, record.offset,
                                  record.key, record.value, index))
    if not events:
        return None, report, unprovable
    verifier = pipeline.verifier
    trees: dict[str, MerkleTree] = {}
    checkpoints: dict[str, tuple[int, bytes]] = {}
    announcements: dict[str, list[bytes]] = {}
    for service in sorted({e.service for e in events}):
        last = checked.services[service].last_verified
        assert last is not None
        trees[service] = MerkleTree(verifier.leaf_hashes(service, last.tree_size))
        checkpoints[service] = (last.tree_size, verifier.checkpoint_value(service, last.sequence))
        announcements[service] = verifier.announcements(service, last.sequence)
    events.sort(key=lambda e: (e.service, e.leaf_index))
    doc = build_proof(str(application_id), events, trees, checkpoints, announcements,
                      keys.to_jwks())
    return doc, report, unprovable

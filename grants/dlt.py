"""Dead letters: list them, show one, redrive them to their original topic.

A consumer that cannot process a record publishes it unchanged (value, key, headers) to
``<topic>.dlt`` with ``dlt-original-topic/partition/offset``, ``dlt-consumer-group``, ``dlt-error``
(and ``dlt-error-code`` where the consumer sets it) headers (``servicekit.consumer``).

**Redrive** publishes the dead letter's exact value and key, with its original headers (the
``audit-leaf`` included) back to the original topic: the consumers read it through their normal
path (decode, inbox, handler), a group that already processed it skips it by its event id, and
the auditors' verifier sees a copy of a known leaf, as after a relay retry. The copy carries
``dlt-redrive-id`` and ``dlt-redriven-from``. Each redrive is then recorded on the dead letter's
own ``.dlt`` topic as a *redrive record* (header ``dlt-redrive-of``; JSON: who, why, when, forced,
where the copy went), which the auditors' bundle exports with the dead letters. A dead letter
with a permanent error (it can never decode or validate) is refused unless forced, and one
already redriven is refused unless forced.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from contracts.topics import ALL_TOPICS, AUDIT_TOPICS
from servicekit.log_reader import LogReader, LogRecord

REDRIVE_OF = "dlt-redrive-of"  # on a redrive record: "<partition>/<offset>" of its dead letter
REDRIVE_ID = "dlt-redrive-id"  # on the copy sent back to the original topic
REDRIVEN_FROM = "dlt-redriven-from"  # on the copy: the dead letter's reference

# Error codes (the consumer's ``dlt-error-code`` header, servicekit.consumer.DEAD_LETTER_CODES and
# contracts.topic_manifest's, or derived from ``dlt-error``) whose record can never be processed
# as it is: redriving it only dead-letters it again. An unknown code counts as permanent.
RETRYABLE = frozenset({"handler_failed", "event_type_unknown"})
# handler_failed: a handler broke (a bug, fixed since); event_type_unknown: the consumer was
# older than its producer (the rollout rule is consumers first) and knows the type after upgrade.


def platform_dead_letter_topics() -> list[str]:
    return [t.dead_letter for t in ALL_TOPICS if t not in AUDIT_TOPICS]


def dead_letter_topic(name: str) -> str:
    """``grants.x.y.v1`` or ``grants.x.y.v1.dlt`` -> the dead-letter topic."""
    return name if name.endswith(".dlt") else f"{name}.dlt"


def derive_error_code(error: str) -> str:
    """A stable code from the ``dlt-error`` text, for dead letters written without
    ``dlt-error-code``."""
    if error.startswith("ValidationError"):
        return "json_invalid" if "json_invalid" in error or "Invalid JSON" in error else (
            "schema_invalid")
    if error.startswith("UnknownEventType"):
        return "event_type_unknown"
    if error.startswith("PoisonMessage"):
        return "message_invalid"
    if error.startswith(("JSONDecodeError", "UnicodeDecodeError")):
        return "json_invalid"
    return "handler_failed" if error else "unknown"


@dataclass(frozen=True)
class DeadLetter:
    record: LogRecord
    redrives: tuple[dict[str, Any], ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.record.topic}/{self.record.partition}/{self.record.offset}"

    def header(self, name: str) -> str | None:
        return self.record.header(name)

    @property
    def origin(self) -> dict[str, Any]:
        partition, offset = self.header("dlt-original-partition"), self.header("dlt-original-offset")
        return {"topic": self.header("dlt-original-topic") or self.record.topic.removesuffix(".dlt"),
                "partition": int(partition) if partition and partition.isdigit() else None,
                "offset": int(offset) if offset and offset.isdigit() else None,
                "consumer_group": self.header("dlt-consumer-group")}

    @property
    def error(self) -> str:
        return self.header("dlt-error") or ""

    @property
    def error_code(self) -> str:
        return self.header("dlt-error-code") or derive_error_code(self.error)

    @property
    def permanent(self) -> bool:
        return self.error_code not in RETRYABLE

    @property
    def dead_lettered_at(self) -> datetime | None:
        ts = self.record.timestamp
        return datetime.fromtimestamp(ts / 1000, UTC) if ts is not None else None

    def original_headers(self) -> list[tuple[str, bytes]]:
        return [(k, v) for k, v in self.record.headers if not k.startswith("dlt-")]

    def describe(self, *, payload: bool = False) -> dict[str, Any]:
        """What ``grants dlt show`` prints: the payload only when asked (personal data)."""
        out: dict[str, Any] = {
            "ref": self.ref, "origin": self.origin, "error_code": self.error_code,
            "permanent": self.permanent, "error": self.error,
            "dead_lettered_at": iso_z(self.dead_lettered_at),
            "key": self.record.key.decode(errors="replace") if self.record.key else None,
            "headers": {k: v.decode(errors="replace") for k, v in self.record.headers},
            "size_bytes": len(self.record.value or b""), "redrives": list(self.redrives)}
        if payload:
            out["payload"] = (self.record.value or b"").decode(errors="replace")
        return out


@dataclass
class TopicSummary:
    topic: str  # the original topic
    count: int = 0
    pending: int = 0  # not redriven yet
    oldest: datetime | None = None
    error_codes: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, "count": self.count, "pending": self.pending,
                "oldest": iso_z(self.oldest), "error_codes": dict(sorted(self.error_codes.items()))}


def iso_z(when: datetime | None) -> str | None:
    return when.isoformat().replace("+00:00", "Z") if when else None


def collect(records: Iterable[LogRecord]) -> list[DeadLetter]:
    """Dead letters in log order, each with the redrive records that name it."""
    letters: dict[tuple[str, int, int], LogRecord] = {}
    redrives: dict[tuple[str, int, int], list[dict[str, Any]]] = {}
    for r in records:
        of = r.header(REDRIVE_OF)
        if of is None:
            letters[(r.topic, r.partition, r.offset)] = r
            continue
        partition, _, offset = of.partition("/")
        try:
            entry = json.loads(r.value)
        except ValueError:
            entry = {"unreadable": True}
        redrives.setdefault((r.topic, int(partition), int(offset)), []).append(entry)
    return [DeadLetter(rec, tuple(redrives.get(key, ()))) for key, rec in sorted(letters.items())]


def summarise(letters: Sequence[DeadLetter]) -> list[TopicSummary]:
    by_topic: dict[str, TopicSummary] = {}
    for letter in letters:
        topic = letter.origin["topic"]
        s = by_topic.setdefault(topic, TopicSummary(topic))
        s.count += 1
        s.pending += not letter.redrives
        s.error_codes[letter.error_code] += 1
        when = letter.dead_lettered_at
        if when and (s.oldest is None or when < s.oldest):
            s.oldest = when
    return [by_topic[t] for t in sorted(by_topic)]


async def read_dead_letters(bootstrap: str, topics: Sequence[str], *,
                            client_options: Mapping[str, Any] | None = None) -> list[DeadLetter]:
    reader = LogReader(bootstrap, topics, group_prefix="grants-dlt", client_options=client_options)
    await reader.start()
    records: list[LogRecord] = []
    try:
        async for batch in reader.read_to_end():
            records += batch
    finally:
        await reader.stop()
    return collect(records)


def parse_ref(ref: str) -> tuple[str, int, int]:
    """``<topic>[.dlt]/<partition>/<offset>`` -> (dead-letter topic, partition, offset)."""
    topic, sep, rest = ref.rpartition("/")
    topic, sep2, partition = topic.rpartition("/")
    if not (sep and sep2 and topic and partition.isdigit() and rest.isdigit()):
        raise ValueError(f"not a dead-letter reference (topic/partition/offset): {ref!r}")
    return dead_letter_topic(topic), int(partition), int(rest)


@dataclass(frozen=True)
class Redrive:
    ref: str
    outcome: str  # redriven | refused_permanent | refused_already_redriven
    detail: dict[str, Any]


def decide(letter: DeadLetter, *, force: bool) -> str | None:
    """Why ``letter`` may not be redriven (an outcome), or None."""
    if force:
        return None
    if letter.permanent:
        return "refused_permanent"
    if letter.redrives:
        return "refused_already_redriven"
    return None


async def redrive(bootstrap: str, letters: Sequence[DeadLetter], *, actor: str, reason: str,
                  force: bool = False, client_options: Mapping[str, Any] | None = None
                  ) -> list[Redrive]:
    """Send each allowed dead letter back to its original topic, then record the redrive."""
    results: list[Redrive] = []
    todo = []
    for letter in letters:
        refused = decide(letter, force=force)
        if refused:
            results.append(Redrive(letter.ref, refused, {"error_code": letter.error_code}))
        else:
            todo.append(letter)
    if not todo:
        return results
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                **dict(client_options or {}))
    await producer.start()
    try:
        for letter in todo:
            redrive_id = str(uuid.uuid4())
            origin = letter.origin
            # The copy first: if recording fails, the copy still names its redrive in headers.
            sent = await producer.send_and_wait(
                origin["topic"], letter.record.value, key=letter.record.key,
                headers=[*letter.original_headers(), (REDRIVE_ID, redrive_id.encode()),
                         (REDRIVEN_FROM, letter.ref.encode())])
            entry = {"redrive_id": redrive_id, "dead_letter": letter.ref, "origin": origin,
                     "error_code": letter.error_code, "forced": force and decide(
                         letter, force=False) is not None, "actor": actor, "reason": reason,
                     "redriven_at": iso_z(datetime.now(UTC)),
                     "copy": {"topic": sent.topic, "partition": sent.partition,
                              "offset": sent.offset}}
            await producer.send_and_wait(
                letter.record.topic, json.dumps(entry, sort_keys=True).encode(),
                key=letter.ref.encode(), partition=letter.record.partition,
                headers=[(REDRIVE_OF, f"{letter.record.partition}/{letter.record.offset}".encode())])
            results.append(Redrive(letter.ref, "redriven", entry))
    finally:
        await producer.stop()
    return results

"""Synthetic logs for the audit tests: services that publish events and sign checkpoints the way
``servicekit.checkpoints`` does (same tree, same signer), as in-memory records."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit import merkle
from audit.bundle import BundleRecord
from audit.checkpoint import CheckpointSigner, leaf_hash
from audit.keys import Keyring
from contracts.audit import LEAF_HEADER
from contracts.topics import audit_topic

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def signer(service: str) -> CheckpointSigner:
    return CheckpointSigner(service, Ed25519PrivateKey.generate())


@dataclass
class Service:
    name: str
    signer: CheckpointSigner
    frontier: merkle.Frontier = field(default_factory=merkle.Frontier)
    pending: list[bytes] = field(default_factory=list)
    sequence: int = 0
    events: list[BundleRecord] = field(default_factory=list)
    checkpoints: list[BundleRecord] = field(default_factory=list)
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    leaves: list[bytes] = field(default_factory=list)

    def emit(self, topic: str, key: str, body: dict | None = None,
             partition: int = 0) -> BundleRecord:
        value = json.dumps(body or {"event_id": str(uuid.uuid4()), "n": len(self.leaves)}).encode()
        index = self.frontier.size + len(self.pending)
        offset = self.offsets.get((topic, partition), 0)
        self.offsets[(topic, partition)] = offset + 1
        record = BundleRecord(topic, partition, offset, key.encode(), value,
                              ((LEAF_HEADER, str(index).encode()),))
        self.pending.append(leaf_hash(topic, key.encode(), value))
        self.leaves.append(self.pending[-1])
        self.events.append(record)
        return record

    def checkpoint(self, *, with_signer: CheckpointSigner | None = None, announce=None,
                   sequence: int | None = None) -> BundleRecord:
        before = self.frontier.copy()
        self.frontier.extend(self.pending)
        self.sequence = sequence or self.sequence + 1
        value = (with_signer or self.signer).sign(
            sequence=self.sequence, tree_size=self.frontier.size, root=self.frontier.root(),
            previous_size=before.size, previous_root=before.root(),
            issued_at=T0 + timedelta(seconds=self.sequence), added=self.pending,
            next_key=announce)
        self.pending = []
        record = BundleRecord(audit_topic(self.name).name, 0, len(self.checkpoints), None, value)
        self.checkpoints.append(record)
        return record


def keyring(*services: Service) -> Keyring:
    return Keyring(s.signer.jwk() for s in services)


def edited(record: BundleRecord, **changes: object) -> BundleRecord:
    return replace(record, **changes)  # type: ignore[arg-type]

"""Signed checkpoints, the emitting side: each service's Merkle tree over what its relay publishes.

The outbox relay (the one per service database, under its advisory lock) calls
:meth:`Checkpointer.advance` with every batch it is about to publish: rows without a leaf get the
next leaf indexes of the service's tree (RFC 6962, ``audit.merkle``) over their exact bytes
(topic, key, value), and one statement (``servicekit_audit_checkpoint``) stores the indexes, the
tree's new right edge and a signed checkpoint row in the outbox, atomically. The relay sends each
event with its ``audit-leaf`` header and sends a checkpoint only once every event below its tree
size is acknowledged, so a reader that reads the audit topic first finds every covered event on
the log. When nothing was published for ``GRANTS_AUDIT_CHECKPOINT_INTERVAL_S`` seconds,
:meth:`heartbeat` writes a checkpoint of the same tree with a new time.

Keys: ``GRANTS_AUDIT_SIGNING_KEY_FILE`` (Ed25519, PEM). A rotation sets the new key there and the
old one in ``GRANTS_AUDIT_PREVIOUS_KEY_FILE``: the next checkpoint is signed by the old key and
announces the new one (``next_key``), every later one is signed by the new key. Without a signing
key the service publishes no checkpoints (and logs ``audit_checkpoints_off``); docs/production.md
says how keys are made and distributed.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from audit import merkle
from audit.checkpoint import CheckpointSigner, leaf_hash
from audit.keys import generate_private_pem, load_private_pem
from contracts.audit import LEAF_HEADER
from contracts.topics import audit_topic
from servicekit.logging import get_logger
from servicekit.settings import ServiceSettings

log = get_logger(__name__)

__all__ = ["LEAF_HEADER", "Checkpointer", "ensure_signing_key", "signer_from_file"]


def signer_from_file(service: str, path: Path) -> CheckpointSigner:
    return CheckpointSigner(service, load_private_pem(path.read_bytes()))


def ensure_signing_key(path: Path) -> Path:
    """Create an Ed25519 signing key at ``path`` (mode 0600) unless one is there; for the
    embedded stack and ``grants audit keys``. Production keys come from a secret store."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_bytes(generate_private_pem())
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)  # atomic, and never replaces a key another process just made
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path


class Checkpointer:
    def __init__(self, service: str, signer: CheckpointSigner,
                 previous: CheckpointSigner | None = None, *, interval_s: float = 60.0) -> None:
        self.service = service
        self.signer = signer
        self.previous = previous
        self.interval_s = interval_s
        self.topic = audit_topic(service).name
        self.frontier = merkle.Frontier()
        self.sequence = 0
        self.next_kid: str | None = None
        self._last_at = 0.0  # monotonic time of the last checkpoint written
        self.written = 0

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> Checkpointer | None:
        if settings.audit_signing_key_file is None:
            return None  # the relay says so when it starts (audit_checkpoints_off)
        service = settings.service_name
        previous = (signer_from_file(service, settings.audit_previous_key_file)
                    if settings.audit_previous_key_file else None)
        return cls(service, signer_from_file(service, settings.audit_signing_key_file), previous,
                   interval_s=settings.audit_checkpoint_interval_s)

    def is_checkpoint(self, row: asyncpg.Record | dict[str, Any]) -> bool:
        return bool(row["topic"] == self.topic)

    async def load(self, conn: asyncpg.Connection) -> None:
        """Read the tree as the last checkpoint left it (the relay just took its lock)."""
        row = await conn.fetchrow(
            "SELECT tree_size, frontier, sequence, key_id,"
            " extract(epoch FROM now() - checkpointed_at) AS age FROM audit_tree")
        self.frontier = merkle.Frontier(int(row["tree_size"]), [bytes(h) for h in row["frontier"]])
        self.sequence = int(row["sequence"])
        self.next_kid = row["key_id"]
        age = float(row["age"]) if row["age"] is not None else float("inf")
        self._last_at = time.monotonic() - min(age, self.interval_s)

    def _signing(self) -> tuple[CheckpointSigner, Any]:
        """Who signs the next checkpoint, and the key it announces (a rotation), if any."""
        current = self.signer
        if self.next_kid in (None, current.key_id):
            return current, None
        if self.previous is not None and self.next_kid == self.previous.key_id:
            return self.previous, current.jwk()
        log.warning("audit_key_changed_unannounced", expected=self.next_kid,
                    signing=current.key_id)
        return current, None

    async def advance(self, conn: asyncpg.Connection, rows: Sequence[asyncpg.Record]
                      ) -> dict[int, int]:
        """Give leaf indexes to the rows that have none and write the checkpoint of the grown
        tree; returns row id → leaf index for those rows (empty when there were none)."""
        new = [r for r in rows if r["audit_leaf"] is None and r["topic"] != self.topic]
        if not new:
            return {}
        frontier = self.frontier.copy()
        leaves: dict[int, int] = {}
        hashes: list[bytes] = []
        for r in new:
            h = leaf_hash(r["topic"], r["key"].encode(), r["value"])
            leaves[r["id"]] = frontier.size
            hashes.append(h)
            frontier.append(h)
        await self._write(conn, frontier, hashes, leaves)
        return leaves

    def send_order(self, rows: Sequence[asyncpg.Record], leaves: dict[int, int]
                   ) -> list[list[asyncpg.Record]]:
        """The rows in the order the relay sends them: a checkpoint that covers an event of the
        same batch (after a crash, both were left unsent) goes in a second round, once that
        event is acknowledged; otherwise everything goes at once."""
        lowest = min((leaves.get(r["id"], r["audit_leaf"]) for r in rows
                      if not self.is_checkpoint(r)
                      and (r["audit_leaf"] is not None or r["id"] in leaves)), default=None)
        first: list[asyncpg.Record] = []
        later: list[asyncpg.Record] = []
        for r in rows:
            waits = self.is_checkpoint(r) and lowest is not None and r["audit_leaf"] > lowest
            (later if waits else first).append(r)
        return [first, later] if later else [first]

    def leaf_headers(self, row: asyncpg.Record, leaves: dict[int, int]) -> list[tuple[str, bytes]]:
        """The ``audit-leaf`` header of an event row (none for a checkpoint row)."""
        leaf = leaves.get(row["id"], row["audit_leaf"])
        if leaf is None or self.is_checkpoint(row):
            return []
        return [(LEAF_HEADER, str(leaf).encode())]

    def heartbeat_due(self) -> bool:
        return time.monotonic() - self._last_at >= self.interval_s

    async def heartbeat(self, conn: asyncpg.Connection) -> None:
        """A checkpoint of the unchanged tree: the service is alive and its tree is this."""
        await self._write(conn, self.frontier.copy(), [], {})

    async def _write(self, conn: asyncpg.Connection, frontier: merkle.Frontier,
                     added: list[bytes], leaves: dict[int, int]) -> None:
        signer, announce = self._signing()
        sequence = self.sequence + 1
        value = signer.sign(sequence=sequence, tree_size=frontier.size, root=frontier.root(),
                            previous_size=self.frontier.size, previous_root=self.frontier.root(),
                            issued_at=datetime.now(UTC), added=added, next_key=announce)
        await conn.fetchval(
            "SELECT servicekit_audit_checkpoint($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            list(leaves), list(leaves.values()), self.frontier.size, frontier.size,
            frontier.hashes, sequence, self.signer.key_id if announce else signer.key_id,
            uuid.uuid4(), self.topic, self.service, value)
        self.frontier = frontier
        self.sequence = sequence
        self.next_kid = self.signer.key_id if announce else signer.key_id
        self._last_at = time.monotonic()
        self.written += 1
        if announce is not None:
            log.info("audit_key_announced", signed_by=signer.key_id, new_key=self.signer.key_id)

"""The emitting side of signed checkpoints, on the real PostgreSQL and broker.

- ``Checkpointer`` against a real database: leaves given once (a re-run after a crash keeps
  them), the tree's edge and the checkpoint row stored in one statement, a relay with a stale
  view of the tree refused, the state read back by a new relay; the relay's send order puts a
  checkpoint after the events it covers when both wait in one batch;
- a service's relay on the real broker: every published event carries its leaf, each batch is
  followed by a checkpoint, and the log verifies from the topics alone; a key rotation announced
  by the old key verifies with a JWKS that lists only the old key.

Checked to fail: with the ``WHERE tree_size = p_old_size`` guard dropped from
``servicekit_audit_checkpoint`` the stale relay's checkpoint is written; with ``send_order``
returning the rows as fetched, the crashed batch's checkpoint goes in the first round; with the
announcement (``next_key``) left out of ``_signing``, the rotated log fails with
``checkpoint_unknown_key``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.checkpoint import CheckpointSigner
from audit.keys import Keyring, generate_private_pem, load_private_pem
from audit.verify import LogVerifier
from contracts import topics
from contracts.audit import LEAF_HEADER
from grants.stack import ensure_topics
from servicekit import db
from servicekit.checkpoints import Checkpointer
from servicekit.relay import OutboxRelay
from tests.infra.services import eventually, log_records, service_settings

pytestmark = pytest.mark.integration
SERVICE = "intake"


def signer() -> CheckpointSigner:
    return CheckpointSigner(SERVICE, Ed25519PrivateKey.generate())


async def migrated(url: str) -> asyncpg.Pool:
    pool = await db.create_pool(url)
    await db.migrate(pool, None)
    return pool


async def add_events(pool: asyncpg.Pool, n: int, topic: str = topics.INTAKE_APPLICATIONS.name
                     ) -> None:
    await pool.executemany(
        "INSERT INTO outbox (event_id, topic, key, value, headers) VALUES ($1, $2, $3, $4, $5)",
        [(uuid.uuid4(), topic, f"app-{i}", json.dumps({"event_id": str(uuid.uuid4()),
                                                       "n": i}).encode(),
          json.dumps({"event_type": "ApplicationReceived"})) for i in range(n)])


async def unsent(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT id, topic, key, value, headers, audit_leaf FROM outbox"
                            " WHERE sent_at IS NULL ORDER BY id")


async def test_leaves_once_the_tree_in_one_statement_and_a_stale_relay_refused(
        fresh_database: str) -> None:
    pool = await migrated(fresh_database)
    try:
        await add_events(pool, 5)
        async with pool.acquire() as conn:
            tree = Checkpointer(SERVICE, signer())
            await tree.load(conn)
            stale = Checkpointer(SERVICE, tree.signer)
            await stale.load(conn)
            rows = await unsent(conn)
            leaves = await tree.advance(conn, rows)
            assert sorted(leaves.values()) == [0, 1, 2, 3, 4]
            # the crash case: the same rows fetched again keep their leaves, no new checkpoint
            again = await unsent(conn)
            assert await tree.advance(conn, again) == {}
            assert [r["audit_leaf"] for r in again if not tree.is_checkpoint(r)] == [0, 1, 2, 3, 4]
            checkpoint = next(r for r in again if tree.is_checkpoint(r))
            assert checkpoint["audit_leaf"] == 5 and checkpoint["key"] == SERVICE
            # a checkpoint covering events of its own batch goes in a second round
            first, later = tree.send_order(again, {})
            assert later == [checkpoint] and checkpoint not in first
            assert [h for r in first for h in tree.leaf_headers(r, {})] == [
                (LEAF_HEADER, str(i).encode()) for i in range(5)]
            # a relay that still believes in the empty tree cannot write its checkpoint
            await add_events(pool, 1)
            with pytest.raises(asyncpg.RaiseError, match="audit tree is not at size 0"):
                await stale.advance(conn, await unsent(conn))
            # a new relay reads the tree as the last checkpoint left it
            fresh = Checkpointer(SERVICE, tree.signer)
            await fresh.load(conn)
            assert (fresh.frontier.size, fresh.frontier.root(), fresh.sequence) == (
                5, tree.frontier.root(), 1)
            assert not fresh.heartbeat_due()
    finally:
        await pool.close()


async def verify(bootstrap: str, keys: Keyring, topic: str, audit: str) -> Any:
    verifier = LogVerifier(keys, services=[SERVICE])
    for r in await log_records(bootstrap, [audit]):
        verifier.add_checkpoint(r)
    events = await log_records(bootstrap, [topic])
    assert all(r.header(LEAF_HEADER) is not None for r in events)
    for r in events:
        verifier.check_event(r)
    return verifier.finish()


async def test_the_relay_publishes_leaves_and_checkpoints_that_verify_and_rotates_keys(
        kafka_bootstrap: str, fresh_database: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # This test's own topics: the service's event topic and audit topic under a private prefix.
    prefix = f"t{uuid.uuid4().hex[:8]}"
    topic, audit = f"grants.{SERVICE}.{prefix}.v1", f"{prefix}.audit"
    monkeypatch.setattr("servicekit.checkpoints.audit_topic",
                        lambda s: topics.Topic(audit, 1, "test"))
    monkeypatch.setattr("audit.verify._AUDIT_TOPIC_SERVICE", {audit: SERVICE})
    await ensure_topics(kafka_bootstrap, topics=(), extra={topic: 3, audit: 1})
    old_key, new_key = tmp_path / "old.pem", tmp_path / "new.pem"
    old_key.write_bytes(generate_private_pem())
    new_key.write_bytes(generate_private_pem())
    old = CheckpointSigner(SERVICE, load_private_pem(old_key.read_bytes()))
    keys = Keyring([old.jwk()])  # what auditors got before the rotation
    pool = await migrated(fresh_database)

    async def run_relay(**settings: Any) -> None:
        relay = OutboxRelay(service_settings(kafka_bootstrap, fresh_database, SERVICE,
                                             relay_batch_size=7, **settings))
        task = asyncio.create_task(relay.run())
        try:
            async def drained() -> bool:
                return await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0

            await eventually(drained, timeout=30)
        finally:
            relay.stop()
            await task

    try:
        await add_events(pool, 20, topic)
        await run_relay(audit_signing_key_file=old_key)
        report = await verify(kafka_bootstrap, keys, topic, audit)
        assert report.verified, report.violations
        assert report.services[SERVICE].events_verified == 20
        assert report.services[SERVICE].checkpoints >= 3  # 7 + 7 + 6, plus a heartbeat
        # rotation: the new key signs, the old one announces it
        await add_events(pool, 4, topic)
        await run_relay(audit_signing_key_file=new_key, audit_previous_key_file=old_key)
        await add_events(pool, 3, topic)
        await run_relay(audit_signing_key_file=new_key)
        report = await verify(kafka_bootstrap, keys, topic, audit)
        assert report.verified, report.violations
        assert report.services[SERVICE].events_verified == 27
        assert len(report.services[SERVICE].keys) == 2
    finally:
        await pool.close()

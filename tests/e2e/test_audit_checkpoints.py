"""Auditors verify from the log alone (issue 21), on the real broker with every service its own
process: signed checkpoints, the offline bundle, one grant's proof, and what tampering with the
topics does to the verdict. No database is read by any verification here (``pg_url=None``;
the bundle and the proof are checked by the CLI in a process that has no broker and no database
either).

The tests share one stack and run in order: the honest log first, then a forged checkpoint on an
audit topic (the topic is then deleted and re-created with its original records, which verifies
again), then an event topic deleted and re-created with one edited event (named as the first bad
event; restoring the original bytes verifies again).

Checked to fail: with the relay's checkpoints switched off (no GRANTS_AUDIT_SIGNING_KEY_FILE)
the honest log does not verify (every event ``event_not_checkpointed``); with the verifier's
signature check removed the forged checkpoint is accepted; with its per-leaf prefix comparison
removed the edited event is reported only as a root mismatch, without naming the event.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from audit import proof as grant_proof
from audit.bundle import Bundle
from audit.checkpoint import CheckpointSigner, canonical
from contracts import topics
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from grants.audit import audit_replay, export_bundle, prove_grant, stack_keyring, verify_bundle
from grants.stack import StackState
from grants.stack.broker import ensure_topics, start_admin
from tests.infra.services import log_records
from tests.infra.stacks import stack_for_test

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "grants" / "scenarios" / "example-small.json"
APPS = topics.INTAKE_APPLICATIONS
INTAKE_AUDIT = topics.audit_topic("intake")


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[StackState, dict]]:
    home = tmp_path_factory.mktemp("audit-stack")
    with stack_for_test(home, simulation=True) as (stack, state):
        out = home / "result.json"
        done = subprocess.run(
            [sys.executable, "-m", "grants.cli", "scenario", "run", str(SCENARIO), "--out",
             str(out), "--no-progress"], cwd=ROOT, env={**os.environ, "GRANTS_HOME": str(home)},
            capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        # The operators' own services are stopped: from here on only the log changes.
        for name in list(state.services):
            stack.stop_service(name)
        yield state, json.loads(out.read_text())


def offline(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """`grants audit …` in a process with no stack, no broker and no database to reach."""
    env = {**os.environ, "GRANTS_HOME": str(home), "GRANTS_KAFKA_BOOTSTRAP": "127.0.0.1:9",
           "GRANTS_PG_URL": "postgresql://nobody@127.0.0.1:9", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "grants.cli", "audit", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)


async def records_of(bootstrap: str, topic: str) -> list[Any]:
    return await log_records(bootstrap, [topic], group_prefix="grants-audit-test")


async def recreate(bootstrap: str, topic: topics.Topic, records: list[Any]) -> None:
    """Delete ``topic``, create it again and produce ``records`` to their partitions, in order
    (a fresh topic gives them their offsets again)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await start_admin(admin, 30)
    try:
        await admin.delete_topics([topic.name])
        deadline = time.monotonic() + 60
        while topic.name in set(await admin.list_topics()):
            assert time.monotonic() < deadline, "the topic was not deleted"
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
    deadline = time.monotonic() + 60
    while True:  # Apache Kafka may still be removing the old one
        try:
            await ensure_topics(bootstrap, [topic])
            break
        except Exception:  # noqa: BLE001 - the broker may still be starting
            assert time.monotonic() < deadline
            await asyncio.sleep(0.5)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for r in records:
            await producer.send_and_wait(topic.name, r.value, key=r.key, partition=r.partition,
                                         headers=list(r.headers))
    finally:
        await producer.stop()


async def test_an_honest_log_verifies_from_the_topics_and_from_the_bundle_alone(
        played: tuple[StackState, dict], tmp_path: Path) -> None:
    state, _result = played
    keys = stack_keyring(state)
    assert keys is not None
    live = await audit_replay(state.kafka_bootstrap, None, keys=keys)
    assert live.verified, live.violations
    assert live.chains == []  # no database was read
    assert live.checkpoints is not None
    for service, s in live.checkpoints.services.items():
        assert s.last_verified is not None, service
        assert s.events_after_cut == 0, service
        assert s.events_verified == s.last_verified.tree_size
    assert sum(s.events_verified for s in live.checkpoints.services.values()) + sum(
        live.checkpoints.inbound.values()) == live.replayed.events
    bundle_dir = tmp_path / "bundle"
    await export_bundle(state.kafka_bootstrap, bundle_dir, keys.to_jwks())
    again = verify_bundle(Bundle(bundle_dir), keys)
    assert again.verified, again.violations
    assert again.summary()["digest"] == live.summary()["digest"]
    # the CLI, on a "machine" with no broker and no database
    done = offline("verify", str(bundle_dir), "--json", str(tmp_path / "r.json"), "--report",
                   str(tmp_path / "r.html"), home=tmp_path / "nowhere")
    assert done.returncode == 0, done.stdout + done.stderr
    assert live.summary()["digest"] in done.stdout
    filed = json.loads((tmp_path / "r.json").read_text())
    assert filed["verdict"] == "verified" and filed["state_digest"] == live.summary()["digest"]
    assert "VERIFIED" in (tmp_path / "r.html").read_text()
    # an altered file of the bundle is named
    events = bundle_dir / "events" / f"{APPS.name}.ndjson"
    events.write_bytes(events.read_bytes().replace(b"budget", b"BUDGET", 1))
    done = offline("verify", str(bundle_dir), home=tmp_path / "nowhere")
    assert done.returncode == 1 and "bundle_altered" in done.stdout


async def test_one_grants_proof_verifies_offline_and_fails_when_an_event_changes(
        played: tuple[StackState, dict], tmp_path: Path) -> None:
    state, result = played
    keys = stack_keyring(state)
    assert keys is not None
    app_id = UUID(next(iter(result["run"]["application_ids"].values())))
    doc, report, _unprovable = await prove_grant(state.kafka_bootstrap, app_id, keys)
    assert report.verified and doc is not None
    services = {e["service"] for e in doc["events"]}
    assert {"intake", "assessment"} <= services
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(doc))
    assert grant_proof.verify(json.loads(path.read_text()), keys).ok
    done = offline("verify-proof", str(path), home=tmp_path / "nowhere")
    assert done.returncode == 0, done.stdout + done.stderr
    # one event of the grant changed: its award amount
    changed = json.loads(path.read_text())
    target = next(i for i, e in enumerate(changed["events"]) if "GrantAwarded" in
                  e["value"]["text"])
    body = json.loads(changed["events"][target]["value"]["text"])
    body["payload"]["amount_oere"] += 100
    changed["events"][target]["value"]["text"] = json.dumps(body)
    path.write_text(json.dumps(changed))
    done = offline("verify-proof", str(path), home=tmp_path / "nowhere")
    assert done.returncode == 1
    assert f"event {target + 1} " in done.stdout and "PROOF FAILS" in done.stdout


async def test_a_forged_checkpoint_fails(played: tuple[StackState, dict]) -> None:
    state, _ = played
    keys = stack_keyring(state)
    assert keys is not None
    original = await records_of(state.kafka_bootstrap, INTAKE_AUDIT.name)
    last = json.loads(original[-1].value)["checkpoint"]
    producer = AIOKafkaProducer(bootstrap_servers=state.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        # the operator's next checkpoint, with a root of their choosing, under intake's key id
        forged = dict(last, sequence=last["sequence"] + 1, previous_tree_size=last["tree_size"],
                      previous_root_hash=last["root_hash"], root_hash="ab" * 32)
        signed = json.loads(original[-1].value)
        await producer.send_and_wait(INTAKE_AUDIT.name, canonical(
            {"checkpoint": forged, "signature": signed["signature"]}), key=b"intake")
        # and one signed properly, by a key of their own
        intruder = CheckpointSigner("intake", Ed25519PrivateKey.generate())
        await producer.send_and_wait(INTAKE_AUDIT.name, intruder.sign(
            sequence=last["sequence"] + 1, tree_size=last["tree_size"],
            root=bytes.fromhex("cd" * 32), previous_size=last["tree_size"],
            previous_root=bytes.fromhex(last["root_hash"]),
            issued_at=datetime.now(UTC)), key=b"intake")
    finally:
        await producer.stop()
    report = await audit_replay(state.kafka_bootstrap, None, keys=keys)
    found = {v["invariant"]: v for v in report.violations}
    assert set(found) == {"checkpoint_signature_invalid", "checkpoint_unknown_key"}, found
    assert found["checkpoint_signature_invalid"]["offset"] == len(original)
    assert found["checkpoint_unknown_key"]["offset"] == len(original) + 1
    # the audit topic re-created with its original records verifies again
    await recreate(state.kafka_bootstrap, INTAKE_AUDIT, original)
    report = await audit_replay(state.kafka_bootstrap, None, keys=keys)
    assert report.verified, report.violations


async def test_a_topic_recreated_with_one_edited_event_fails_and_names_it(
        played: tuple[StackState, dict]) -> None:
    state, _ = played
    keys = stack_keyring(state)
    assert keys is not None
    original = await records_of(state.kafka_bootstrap, APPS.name)
    victim = next(r for r in original if b'"ApplicationReceived"' in r.value)
    body = json.loads(victim.value)
    body["payload"]["budget"]["total_oere"] += 1  # one øre more applied for
    edited = json.dumps(body).encode()
    await recreate(state.kafka_bootstrap, APPS, [
        type(r)(r.topic, r.partition, r.offset, r.key, edited if r is victim else r.value,
                r.headers) for r in original])
    report = await audit_replay(state.kafka_bootstrap, None, keys=keys)
    assert not report.verified
    first = report.violations[0]
    assert first["invariant"] == "event_altered", report.violations
    assert (first["event_id"], first["topic"], first["partition"], first["offset"]) == (
        body["event_id"], APPS.name, victim.partition, victim.offset)
    assert report.checkpoints is not None
    assert report.checkpoints.services["intake"].last_verified is not None  # up to before it
    await recreate(state.kafka_bootstrap, APPS, original)
    report = await audit_replay(state.kafka_bootstrap, None, keys=keys)
    assert report.verified, report.violations

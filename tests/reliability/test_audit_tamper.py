"""Issue 10, security: the audit chain verifier catches an edited row — in every service.

Each service (``services.<name>.app.build``, its own migrations and PostgreSQL database) runs
in-process on the real broker; six events go through its unit of work into ``audit_log`` and,
by its relay, onto the log. Then, one at a time (the table restored in between, and the restored
chain verified again), its ``audit_log`` is tampered with and ``grants.audit.verify_chain`` must
name the row:

- an entry's content edited (an amount of the event) → that row, "entry_hash does not match";
- a middle row deleted → the row after the gap, "missing entry before this one (expected seq n)";
- two rows swapped (reordered) → the first of them, holding the other's event;
- an entry's recorded hash of the published bytes edited and the chain re-hashed from there on (what
  someone with write access and no secret would do) → the chain links, but the comparison with
  the log names the row (and, without the log, the comparison with the outbox row);
- an entry's event edited under its old recorded hash, the chain re-hashed → the comparison of
  the entry's event with the bytes it names (the outbox row the relay published) names the row.

Mechanism guarded: ``servicekit.audit_chain.verify`` (seq continuity, ``prev_hash`` links, each
``entry_hash``) and ``verify_chain``'s match of entries against the log and the outbox. Checked
locally by making ``verify`` skip its ``entry_hash`` comparison (the edit goes unnoticed) and by
making ``verify_chain`` return before comparing with the log (the re-hashed edit goes unnoticed);
the kept-hash edit went unnoticed before the outbox comparison existed.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI

from contracts import topics
from contracts.assessment import PriorAwardImported
from contracts.base import Actor
from grants.audit import verify_chain
from grants.stack import drop_database
from servicekit import audit_chain
from servicekit.identity import DevTokenIssuer
from servicekit.outbox import Cause
from servicekit.service import ServiceRuntime
from services.assessment.app import build as build_assessment
from services.intake.app import build as build_intake
from services.payments.app import build as build_payments
from services.reporting.app import build as build_reporting
from tests.infra import fast_join
from tests.infra.services import eventually, read_topic, running_service

pytestmark = pytest.mark.integration

BUILDS: dict[str, Callable[..., tuple[ServiceRuntime, FastAPI]]] = {
    "intake": build_intake, "assessment": build_assessment,
    "payments": build_payments, "reporting": build_reporting,
}
EVENTS = 6
Tamper = Callable[[asyncpg.Connection, list[asyncpg.Record]], Awaitable[tuple[int, str, str]]]


async def _edit_content(conn: asyncpg.Connection, rows: list[asyncpg.Record]
                        ) -> tuple[int, str, str]:
    row = rows[2]
    entry = json.loads(row["entry"])
    entry["event"]["payload"]["municipality_code"] = "999"
    await conn.execute("UPDATE audit_log SET entry = $1 WHERE seq = $2",
                       audit_chain.canonical(entry).decode(), row["seq"])
    return row["seq"], str(row["event_id"]), "entry_hash does not match its content"


async def _delete_middle(conn: asyncpg.Connection, rows: list[asyncpg.Record]
                         ) -> tuple[int, str, str]:
    gone, after = rows[2], rows[3]
    await conn.execute("DELETE FROM audit_log WHERE seq = $1", gone["seq"])
    return after["seq"], str(after["event_id"]), f"expected seq {gone['seq']}"


async def _swap(conn: asyncpg.Connection, rows: list[asyncpg.Record]) -> tuple[int, str, str]:
    a, b = rows[1], rows[2]
    await conn.execute("UPDATE audit_log SET seq = -1 WHERE seq = $1", a["seq"])
    await conn.execute("UPDATE audit_log SET seq = $1 WHERE seq = $2", a["seq"], b["seq"])
    await conn.execute("UPDATE audit_log SET seq = $1 WHERE seq = -1", b["seq"])
    return a["seq"], str(b["event_id"]), "prev_hash does not match"


async def _edit_and_rehash(conn: asyncpg.Connection, rows: list[asyncpg.Record], index: int,
                           edit: Callable[[dict[str, Any]], None]) -> tuple[int, str]:
    """``edit`` row ``index``'s entry, then re-hash the chain from there on (what someone with
    write access and no secret would do); returns the edited row's (seq, event id)."""
    row = rows[index]
    prev = row["prev_hash"]
    for r in rows[index:]:
        entry = json.loads(r["entry"])
        if r["seq"] == row["seq"]:
            edit(entry)
        new_hash = audit_chain.entry_hash(prev, entry)
        await conn.execute(
            "UPDATE audit_log SET entry = $1, prev_hash = $2, entry_hash = $3 WHERE seq = $4",
            audit_chain.canonical(entry).decode(), prev, new_hash, r["seq"])
        prev = new_hash
    return row["seq"], str(row["event_id"])


async def _rehashed_edit(conn: asyncpg.Connection, rows: list[asyncpg.Record]
                         ) -> tuple[int, str, str]:
    def edit(entry: dict[str, Any]) -> None:
        entry["event"]["payload"]["municipality_code"] = "999"
        entry["value_sha256"] = hashlib.sha256(json.dumps(entry["event"]).encode()).hexdigest()

    seq, event_id = await _edit_and_rehash(conn, rows, 2, edit)
    return seq, event_id, "event on the log differs from its audit entry"


async def _edited_under_kept_hash(conn: asyncpg.Connection, rows: list[asyncpg.Record]
                                 ) -> tuple[int, str, str]:
    def edit(entry: dict[str, Any]) -> None:
        entry["event"]["payload"]["municipality_code"] = "999"  # value_sha256 left as it was

    seq, event_id = await _edit_and_rehash(conn, rows, 3, edit)
    return seq, event_id, "audit entry's event differs from the event the service published"


TAMPERS: dict[str, Tamper] = {"edit": _edit_content, "delete": _delete_middle,
                              "reorder": _swap, "rehashed": _rehashed_edit,
                              "kept_hash": _edited_under_kept_hash}


@pytest.mark.parametrize("service", sorted(BUILDS))
async def test_audit_chain_verifier_names_the_tampered_row(
    service: str, private_kafka: str, pg_url: str, tmp_path: Path
) -> None:
    db_name = f"audit_{service}_{uuid.uuid4().hex[:8]}"
    db_url = f"{pg_url}/{db_name}"
    aggregate = f"tamper-{uuid.uuid4().hex[:8]}"
    try:
        async with running_service(BUILDS[service], private_kafka, db_url,
                                   DevTokenIssuer(tmp_path / "keys"), name=service,
                                   **fast_join()) as (rt, _):
            for i in range(EVENTS):
                async with rt.unit_of_work() as uow:
                    uow.emit(PriorAwardImported(programme="tamper", municipality_code=f"{100 + i}",
                                                pool_id=f"{aggregate}-{i}"),
                             aggregate_id=aggregate,
                             cause=Cause(actor=Actor(id="test", role="system"),
                                         correlation_id=f"{aggregate}-{i}"))

            async def relayed() -> bool:
                return await rt.pool.fetchval(
                    "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0
            await eventually(relayed)
        on_log = await read_topic(private_kafka, topics.ASSESSMENT_POOLS.name,
                                  lambda r: r.key == aggregate.encode(),
                                  enough=lambda found: len(found) >= EVENTS)
        published = {json.loads(r.value)["event_id"]: hashlib.sha256(r.value).hexdigest()
                     for r in on_log}
        assert len(published) == EVENTS

        conn = await asyncpg.connect(db_url)
        try:
            original = await conn.fetch("SELECT * FROM audit_log ORDER BY seq")
            assert [r["seq"] for r in original] == list(range(1, EVENTS + 1))
            intact = await verify_chain(pg_url, db_name, published)
            assert intact.problem is None and intact.entries == EVENTS, intact.problem
            for label, tamper in TAMPERS.items():
                async with conn.transaction():
                    seq, event_id, message = await tamper(conn, original)
                if label == "rehashed":  # the chain links; the outbox row still tells
                    chain_only = await verify_chain(pg_url, db_name, {})
                    assert chain_only.problem is not None
                    assert chain_only.problem["seq"] == seq
                    assert "differs from the event the service published" in \
                        chain_only.problem["message"]
                report = await verify_chain(pg_url, db_name, published)
                assert report.problem is not None, f"{service}: {label} went unnoticed"
                assert (report.problem["seq"], report.problem["event_id"]) == (seq, event_id), (
                    label, report.problem)
                assert message in report.problem["message"], (label, report.problem)
                assert report.problem["service"] == db_name
                await _restore(conn, original)
                restored = await verify_chain(pg_url, db_name, published)
                assert restored.problem is None, (label, restored.problem)
        finally:
            await conn.close()
    finally:
        await drop_database(pg_url, db_name)


async def _restore(conn: asyncpg.Connection, rows: list[asyncpg.Record]) -> None:
    async with conn.transaction():
        await conn.execute("DELETE FROM audit_log")
        await conn.executemany(
            "INSERT INTO audit_log (seq, event_id, entry, prev_hash, entry_hash, recorded_at)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            [(r["seq"], r["event_id"], r["entry"], r["prev_hash"], r["entry_hash"],
              r["recorded_at"]) for r in rows])

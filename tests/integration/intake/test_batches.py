"""Deciding many submissions at once (the portal consumer's batches, grouped HTTP requests) gives
exactly what deciding them one after the other did: the same decisions, the same events in the
same order, the same applications and submission index afterwards.

The oracle is the per-submission adapter as it was before batching (one statement per claim,
lock, pool read, save and release), kept here verbatim. Scenarios are random but seeded: a few
submission ids and application ids shared by several submissions, so duplicates, repeats,
conflicts, refused tokens (whose claim is released and then taken by a later submission),
malformed submissions and late ones all meet inside one batch, on top of submissions decided
before it.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from contracts.assessment import PoolPublished
from contracts.base import Actor, Contract
from contracts.intake import SubmissionUnauthorized
from grants.stack import create_database, drop_database
from servicekit import db
from servicekit.clock import SystemClock
from servicekit.identity import AuthError, DevTokenIssuer, Principal, TokenVerifier
from servicekit.outbox import Cause
from servicekit.service import UnitOfWork
from servicekit.settings import ServiceSettings
from services.intake.app import MIGRATIONS
from services.intake.domain import (
    ApplicationState,
    Decision,
    application_id_for,
    authorise_submitter,
    decide_malformed,
    decide_submission,
    decide_token_refusal,
    evolve_all,
    parse_submission,
    token_reason,
)
from services.intake.service import DecideSubmissions, Submission, handle_submissions
from services.intake.tokens import TokenCache
from services.intake.store import IntakeStore, PoolCache
from tests.integration.intake.conftest import (
    CVR,
    CVR_OTHER,
    DEADLINE,
    Intake,
    pool_definition,
    types,
    valid_submission,
)

pytestmark = pytest.mark.integration
SCENARIOS = 120
UNIDENTIFIED = "submission:unidentified"


@dataclass
class Recorder:
    """A sink that keeps what was emitted, in order."""

    emitted: list[tuple[str, dict[str, Any], str, Cause]] = field(default_factory=list)

    def emit(self, payload: Contract, *, aggregate_id: str, cause: Cause) -> None:
        self.emitted.append((type(payload).__name__, payload.model_dump(mode="json"),
                             aggregate_id, cause))


# -- the oracle: the adapter as it was, one statement at a time -----------------------------------

def _refused_aggregate(sub: Submission) -> str:
    sid = sub.parsed.submission_id
    return str(sid) if sid is not None else UNIDENTIFIED


def _refusal_only(decision: Decision) -> bool:
    return bool(decision.events) and all(isinstance(e, SubmissionUnauthorized)
                                         for e in decision.events)


def _emit_refusal(sink: Recorder, sub: Submission, decision: Decision) -> None:
    """A token or organisation refusal is stored nowhere: over HTTP (no refusal key) nothing is
    emitted; on the portal topic it is published keyed by the record's key, without the body's
    submission id (issue 14)."""
    if sub.refusal_key is None:
        return
    for event in decision.events:
        sink.emit(event.model_copy(update={"submission_id": None}),
                  aggregate_id=sub.refusal_key, cause=sub.cause)


async def _apply_one(store: IntakeStore, state: ApplicationState, decision: Decision,
                     sink: Recorder, cause: Cause) -> None:
    if not decision.events:
        return
    await store.save_application(evolve_all(state, decision.events))
    for event in decision.events:
        sink.emit(event, aggregate_id=str(state.application_id), cause=cause)


async def one_by_one(conn: asyncpg.Connection, sink: Recorder, sub: Submission) -> Decision:
    parsed, who, now, cause = sub.parsed, sub.who, sub.now, sub.cause
    if isinstance(who, AuthError):
        decision = decide_token_refusal(parsed, now, [token_reason(who.code)], 401)
        _emit_refusal(sink, sub, decision)
        return decision
    store = IntakeStore(conn)
    command = parsed.command
    if command is None:
        denied = authorise_submitter(who.claims)
        if denied:
            decision = decide_token_refusal(parsed, now, denied, 403)
            _emit_refusal(sink, sub, decision)
            return decision
        state = (await store.lock_application(parsed.application_id)
                 if parsed.application_id is not None else None)
        decision = decide_malformed(state, parsed, now)
        if state is None:
            for event in decision.events:
                sink.emit(event, aggregate_id=_refused_aggregate(sub), cause=cause)
        else:
            await _apply_one(store, state, decision, sink, cause)
        return decision
    application_id = application_id_for(command)
    claim = await store.claim_submission(command.submission_id, application_id, who.cvr)
    state = await store.lock_application(application_id)
    decision = decide_submission(state, command, now, claims=who.claims,
                                 pools=await store.pools_for(command.pool_id),
                                 register=await store.organisations([command.applicant.cvr]),
                                 bound_to=claim.application_id)
    if claim.new and any(isinstance(e, SubmissionUnauthorized) for e in decision.events):
        await store.release_submission(command.submission_id)
    if _refusal_only(decision):
        _emit_refusal(sink, sub, decision)
    else:
        await _apply_one(store, state, decision, sink, cause)
    return decision


# -- scenarios ----------------------------------------------------------------------------------------

def _principal(cvr: str | None, role: str = "applicant") -> Principal:
    claims: dict[str, Any] = {"sub": f"employee-{cvr}", "roles": [role]}
    if cvr is not None:
        claims["cvr"] = cvr
    return Principal(subject=claims["sub"], roles=frozenset([role]), cvr=cvr, claims=claims)


WHO: list[Principal | AuthError] = [
    _principal(CVR), _principal(CVR), _principal(CVR), _principal(CVR_OTHER),
    _principal(CVR, "assessor"), _principal(None), AuthError(401, "token_expired"),
]


def scenario(rng: random.Random, pool_id: str) -> tuple[list[Submission], int]:
    """Submissions over 3 submission ids and 2 application ids; how many come before the batch."""
    sids = [str(uuid.uuid4()) for _ in range(3)]
    apps = [str(uuid.uuid4()) for _ in range(2)]
    subs = []
    for n in range(rng.randint(1, 12)):
        cvr, municipality = rng.choice([(CVR, "751"), (CVR, "751"), (CVR_OTHER, "101")])
        body = valid_submission(rng.choice([pool_id, pool_id, pool_id, "unpublished-pool"]),
                                cvr=cvr, municipality=municipality,
                                submission_id=rng.choice(sids), application_id=rng.choice(apps))
        kind = rng.choice(["valid"] * 5 + ["invalid", "no_application_id", "malformed",
                                           "malformed_bare"])
        if kind == "invalid":
            body["budget"] = dict(body["budget"], total_oere=1)
        elif kind == "no_application_id":
            del body["application_id"]
        elif kind == "malformed":
            body["purpose"] = ""
            body["unexpected"] = 1
        elif kind == "malformed_bare":
            body = {"submission_id": body["submission_id"], "pool_id": pool_id}
            if rng.random() < 0.5:
                body["application_id"] = rng.choice(apps)
        now = DEADLINE + rng.choice([-timedelta(hours=1), timedelta(0),
                                     timedelta(milliseconds=1), timedelta(hours=30)])
        who = rng.choice(WHO)
        actor = Actor(id=who.subject if isinstance(who, Principal) else "unauthenticated",
                      role="applicant")
        refusal_key = rng.choice([None, f"record-key-{n}"])  # HTTP or the portal topic
        subs.append(Submission(parse_submission(json.dumps(body).encode()), who, now,
                               Cause(actor=actor, correlation_id=f"c-{n}"),
                               refusal_key=refusal_key))
    return subs, rng.randint(0, len(subs) - 1)


async def _tables(conn: asyncpg.Connection) -> tuple[list[Any], list[Any]]:
    apps = await conn.fetch("SELECT application_id, state, applicant_cvr, pool_id"
                            " FROM applications ORDER BY application_id")
    index = await conn.fetch("SELECT submission_id, application_id, submitter_cvr"
                             " FROM submission_index ORDER BY submission_id")
    return ([(r[0], json.loads(r[1]), r[2], r[3]) for r in apps], [tuple(r) for r in index])


@pytest.fixture
async def two_databases(pg_url: str) -> AsyncIterator[tuple[asyncpg.Pool, asyncpg.Pool]]:
    names = [f"test_intake_batch_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    pools = []
    try:
        for name in names:
            await create_database(pg_url, name)
            pool = await db.create_pool(f"{pg_url}/{name}", min_size=1, max_size=2)
            await db.migrate(pool, MIGRATIONS)
            pools.append(pool)
        yield pools[0], pools[1]
    finally:
        for pool in pools:
            await pool.close()
        for name in names:
            await drop_database(pg_url, name)


async def test_a_batch_decides_as_one_by_one(
        two_databases: tuple[asyncpg.Pool, asyncpg.Pool]) -> None:
    batched_db, reference_db = two_databases
    definition = pool_definition("intake-batch")
    pool = PoolPublished(pool_id=definition.pool_id, version=1, content_hash="sha256:test",
                         definition=definition, deadline=definition.deadline_instant())
    for database in (batched_db, reference_db):
        async with database.acquire() as conn:
            await IntakeStore(conn).save_pool(pool)
    cache = PoolCache()  # empty: the first batch reads the pool, later ones use the copy
    clock = SystemClock()
    rng = random.Random(20221128)
    batch_sizes = []
    for n in range(SCENARIOS):
        subs, before = scenario(rng, pool.pool_id)
        sinks = (Recorder(), Recorder())
        decided: tuple[list[Decision], list[Decision]] = ([], [])
        for database, sink in zip((batched_db, reference_db), sinks):
            async with database.acquire() as conn:
                for sub in subs[:before]:  # decided before the batch, alike on both
                    async with conn.transaction():
                        await one_by_one(conn, sink, sub)
        async with batched_db.acquire() as conn, conn.transaction():
            decided[0].extend(await handle_submissions(
                UnitOfWork(conn, sinks[0]),  # type: ignore[arg-type] # a Recorder for the outbox
                DecideSubmissions(subs[before:], cache, clock)))
        async with reference_db.acquire() as conn, conn.transaction():
            for sub in subs[before:]:
                decided[1].append(await one_by_one(conn, sinks[1], sub))
        context = f"scenario {n}: {len(subs)} submissions, batch from {before}"
        assert decided[0] == decided[1], context
        assert sinks[0].emitted == sinks[1].emitted, context
        async with batched_db.acquire() as a, reference_db.acquire() as b:
            assert await _tables(a) == await _tables(b), context
        batch_sizes.append(len(subs) - before)
    assert max(batch_sizes) >= 8


async def test_token_cache_keeps_verified_tokens_until_exp(tmp_path: Path) -> None:
    issuer = DevTokenIssuer(tmp_path)
    calls: list[str | None] = []

    class Counting(TokenVerifier):
        def verify(self, token: str | None) -> Principal:
            calls.append(token)
            return super().verify(token)

    cache = TokenCache(lambda: counting, max_entries=2)
    counting = Counting.from_settings(ServiceSettings(auth_public_key_file=issuer.public_key_file))
    good = issuer.issue("employee-1", ["applicant"], cvr=CVR)
    first, again = cache.verify(good), cache.verify(good)
    assert isinstance(first, Principal) and again is first and calls == [good]
    # refusals are verified (and refused) every time
    expired = issuer.issue("employee-1", ["applicant"], cvr=CVR, ttl_s=-3600)
    for bad in (None, "not-a-jwt", expired):
        assert isinstance(cache.verify(bad), AuthError)
        assert isinstance(cache.verify(bad), AuthError)
    assert calls.count("not-a-jwt") == calls.count(expired) == 2
    # past its exp a token is verified again: within the verifier's leeway it still passes
    almost = issuer.issue("employee-2", ["applicant"], cvr=CVR, ttl_s=-5)
    assert isinstance(cache.verify(almost), Principal)
    assert isinstance(cache.verify(almost), Principal)
    assert calls.count(almost) == 2
    # bounded, least recently used out first
    other, third = (issuer.issue(f"employee-{i}", ["applicant"], cvr=CVR) for i in (3, 4))
    cache.verify(other)
    cache.verify(good)  # used: now the most recent
    cache.verify(third)  # evicts other
    cache.verify(good)
    cache.verify(other)
    assert calls.count(good) == 1 and calls.count(other) == 2


async def test_concurrent_http_submissions_of_one_application(intake: Intake) -> None:
    """Requests that arrive together are decided together, as if one after the other."""
    at = DEADLINE - timedelta(hours=1)
    token = intake.token()
    first = valid_submission(intake.pool_id)
    versions = [dict(first, submission_id=str(uuid.uuid4())) for _ in range(5)]
    bodies = [first, *versions[:2], first, *versions[2:], first]
    answers = await asyncio.gather(*(intake.post(b, at, token=token) for b in bodies))
    assert [a.status_code for a in answers] == [200] * len(bodies), [a.text for a in answers]
    receipts: dict[str, list[Any]] = {}
    for body, answer in zip(bodies, answers):
        receipts.setdefault(body["submission_id"], []).append(answer.json())
    # a repeat gets the receipt of the first; six submissions, six versions
    assert all(r == rs[0] for rs in receipts.values() for r in rs)
    assert sorted(rs[0]["version"] for rs in receipts.values()) == [1, 2, 3, 4, 5, 6]
    events = await intake.outbox(aggregate=first["application_id"])
    assert types(events) == ["ApplicationReceived", "ApplicationAccepted"] * 6
    assert [e["payload"]["version"] for e in events[::2]] == [1, 2, 3, 4, 5, 6]
    assert [e["sequence"] for e in events] == list(range(1, 13))


async def test_the_portal_consumer_decides_whole_batches(intake: Intake) -> None:
    at = DEADLINE - timedelta(hours=1)
    token = intake.token()
    bodies = [valid_submission(intake.pool_id) for _ in range(30)]
    messages = [{"token": token, "submission": b} for b in [*bodies, bodies[0], bodies[7]]]
    positions = await asyncio.gather(*(intake.publish(m, at) for m in messages))
    await intake.processed(*positions)
    assert intake.portal_consumer.largest_batch > 1  # batches reach the batch handler
    for body in bodies:
        assert types(await intake.outbox(aggregate=body["application_id"])) == [
            "ApplicationReceived", "ApplicationAccepted"]

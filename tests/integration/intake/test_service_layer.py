"""Intake's command handlers (services/intake/service.py) called directly, each in one unit of
work on a migrated PostgreSQL database, with a recorder for the outbox: what each stores, what
it emits under which key, and what the queries refuse. (The same handlers on the fake unit of
work: tests/unit/intake/test_service_on_fake.py; the batch handler's equivalence with deciding
one by one is test_batches.py.)"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from contracts.assessment import PoolPublished
from contracts.base import Actor
from contracts.refusal import Refusal
from contracts.register import OrganisationRecorded
from contracts.reporting import ReportOverdue
from grants.stack import create_database, drop_database
from servicekit import db
from servicekit.clock import SystemClock
from servicekit.identity import AuthError, Principal
from servicekit.outbox import Cause
from servicekit.service import UnitOfWork
from services.intake.app import MIGRATIONS
from services.intake.domain import DecideItProblemException, ReportItProblem, parse_submission
from services.intake.service import (
    Caller,
    DecideException,
    DecideSubmissions,
    RecordPoolEvents,
    ReportContact,
    Submission,
    decide_it_problem,
    handle_submissions,
    read_application,
    read_receipt,
    record_pool_events,
    report_it_problem,
)
from services.intake.store import IntakeStore, PoolCache
from tests.integration.intake.conftest import (
    CVR, CVR_OTHER, DEADLINE, REGISTER, pool_definition, valid_submission,
)
from tests.integration.intake.test_batches import Recorder

pytestmark = pytest.mark.integration
CAUSE = Cause(actor=Actor(id="employee-1", role="applicant"), correlation_id="c-1")


def principal(cvr: str | None = CVR, *roles: str) -> Principal:
    roles = roles or ("applicant",)
    claims: dict[str, Any] = {"sub": f"someone-{cvr}", "roles": list(roles)}
    if cvr is not None:
        claims["cvr"] = cvr
    return Principal(subject=claims["sub"], roles=frozenset(roles), cvr=cvr, claims=claims)


@pytest.fixture
async def database(pg_url: str) -> AsyncIterator[asyncpg.Pool]:
    name = f"test_intake_layer_{uuid.uuid4().hex[:10]}"
    await create_database(pg_url, name)
    pool = await db.create_pool(f"{pg_url}/{name}", min_size=1, max_size=2)
    try:
        await db.migrate(pool, MIGRATIONS)
        yield pool
    finally:
        await pool.close()
        await drop_database(pg_url, name)


async def run(database: asyncpg.Pool, handler: Any, command: Any) -> tuple[Any, Recorder]:
    """``handler(uow, command)`` in one transaction, its events kept by a recorder."""
    sink = Recorder()
    async with database.acquire() as conn, conn.transaction():
        result = await handler(UnitOfWork(conn, sink), command)  # type: ignore[arg-type]
    return result, sink


async def published_pool(database: asyncpg.Pool) -> PoolPublished:
    definition = pool_definition(f"layer-{uuid.uuid4().hex[:6]}")
    pool = PoolPublished(pool_id=definition.pool_id, version=1, content_hash="sha256:test",
                         definition=definition, deadline=definition.deadline_instant())
    register = [OrganisationRecorded(revision=n, entry_version=1, change="created",
                                     organisation=o, source="intake-it", source_version=1,
                                     changed_by="svc-assessment")
                for n, o in enumerate(REGISTER, start=1)]
    overdue_elsewhere = ReportOverdue.model_construct()  # not intake's: passed over
    stored, sink = await run(database, record_pool_events,
                             RecordPoolEvents([*register, overdue_elsewhere, pool]))
    assert stored == [pool] and sink.emitted == []
    return pool


async def test_record_pool_events_keeps_pools_and_the_register(database: asyncpg.Pool) -> None:
    pool = await published_pool(database)
    async with database.acquire() as conn:
        store = IntakeStore(conn)
        assert await store.pool(pool.pool_id) == pool
        assert set(await store.organisations([CVR, CVR_OTHER, "12345678"])) == {CVR, CVR_OTHER}
    # an older or repeated version changes nothing, and is still handed to the cache
    older = pool.model_copy(update={"version": 0})
    stored, _ = await run(database, record_pool_events, RecordPoolEvents([older]))
    assert stored == [older]
    async with database.acquire() as conn:
        assert await IntakeStore(conn).pool(pool.pool_id) == pool


async def test_handle_submissions_accepts_and_keys_by_application(
        database: asyncpg.Pool) -> None:
    pool = await published_pool(database)
    body = valid_submission(pool.pool_id)
    sub = Submission(parse_submission(json.dumps(body).encode()), principal(),
                     DEADLINE - timedelta(hours=1), CAUSE)
    (decision, again), sink = await run(database, handle_submissions,
                                        DecideSubmissions([sub, sub], PoolCache(), SystemClock()))
    assert decision.answer == "ok" and decision.receipt is not None
    assert again.events == () and again.receipt == decision.receipt  # the repeat: no effect
    assert decision.receipt.status == "on_time"
    assert [(name, key) for name, _, key, _ in sink.emitted] == [
        ("ApplicationReceived", body["application_id"]),
        ("ApplicationAccepted", body["application_id"])]
    receipt = await read_receipt(database, uuid.UUID(body["submission_id"]), CVR)
    assert receipt == decision.receipt
    state = await read_application(database, uuid.UUID(body["application_id"]),
                                   {"applicant"}, CVR)
    assert state.applicant_cvr == CVR and len(state.versions) == 1
    with pytest.raises(Refusal) as refused:
        await read_receipt(database, uuid.UUID(body["submission_id"]), CVR_OTHER)
    assert (refused.value.code, refused.value.kind) == ("cvr_mismatch", "forbidden")
    with pytest.raises(Refusal) as refused:
        await read_receipt(database, uuid.uuid4(), CVR)
    assert (refused.value.code, refused.value.kind) == ("submission_unknown", "not_found")


async def test_a_token_refusal_is_recorded_nowhere(database: asyncpg.Pool) -> None:
    pool = await published_pool(database)
    body = valid_submission(pool.pool_id)
    parsed = parse_submission(json.dumps(body).encode())
    refused = AuthError(401, "token_expired")
    over_http = Submission(parsed, refused, DEADLINE, CAUSE)
    from_portal = Submission(parsed, refused, DEADLINE, CAUSE, refusal_key="record-key")
    decisions, sink = await run(database, handle_submissions, DecideSubmissions(
        [over_http, from_portal], PoolCache(), SystemClock()))
    assert [d.answer for d in decisions] == ["unauthenticated"] * 2
    # over HTTP nothing; on the portal topic the refusal, under the record's key, with no id
    # from the body
    assert [(name, event["submission_id"], key) for name, event, key, _ in sink.emitted] == [
        ("SubmissionUnauthorized", None, "record-key")]
    async with database.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM applications") == 0
        assert await conn.fetchval("SELECT count(*) FROM submission_index") == 0
    # the id stayed free: the rightful owner's submission takes effect
    owner = Submission(parsed, principal(), DEADLINE - timedelta(hours=1), CAUSE)
    (decision,), _ = await run(database, handle_submissions,
                               DecideSubmissions([owner], PoolCache(), SystemClock()))
    assert decision.receipt is not None and decision.receipt.status == "on_time"


async def test_it_problem_contact_and_decision(database: asyncpg.Pool) -> None:
    pool = await published_pool(database)
    body = valid_submission(pool.pool_id)
    late = Submission(parse_submission(json.dumps(body).encode()), principal(),
                      DEADLINE + timedelta(hours=1), CAUSE)
    (decision,), _ = await run(database, handle_submissions,
                               DecideSubmissions([late], PoolCache(), SystemClock()))
    assert decision.receipt is not None and decision.receipt.status == "late_rejected"
    application_id = uuid.UUID(body["application_id"])
    exception_id = uuid.uuid4()
    causes: list[str] = []

    def caller(who: Principal) -> Caller:
        return Caller(who.roles, who.cvr, who.claims,
                      lambda role: causes.append(role) or Cause(  # type: ignore[func-returns-value]
                          actor=Actor(id=who.subject, role=role), correlation_id="c-2"))

    def contact(applicant_cvr: str) -> ReportItProblem:
        return ReportItProblem(
            exception_id=exception_id, application_id=application_id, pool_id=pool.pool_id,
            applicant_cvr=applicant_cvr, documentation=True, attempted_before_deadline=True,
            screenshot_at=DEADLINE - timedelta(minutes=2), evidence_refs=["shot.png"],
            contacted_at=DEADLINE + timedelta(hours=2))

    reported, sink = await run(database, report_it_problem, ReportContact(
        application_id, pool.pool_id, contact, caller(principal(None, "caseworker")),
        DEADLINE + timedelta(hours=2), PoolCache()))
    decided, state = reported
    assert decided.answer == "created" and causes == ["caseworker"]
    record = state.exception(exception_id)
    assert record is not None and record.status == "pending" and state.applicant_cvr == CVR
    # a caseworker records it for the organisation the application is bound to
    assert [(name, event["applicant_cvr"], key) for name, event, key, _ in sink.emitted] == [
        ("ItProblemExceptionRequested", CVR, str(application_id))]
    # an applicant of another organisation cannot report for an application bound to CVR
    with pytest.raises(Refusal):
        await run(database, report_it_problem, ReportContact(
            application_id, pool.pool_id, contact, caller(principal(None, "applicant")),
            DEADLINE + timedelta(hours=2), PoolCache()))
    result, sink = await run(database, decide_it_problem, DecideException(
        DecideItProblemException(application_id=application_id, approved=True),
        caller(principal("11111111", "caseworker")), DEADLINE + timedelta(hours=3),
        PoolCache()))
    decided, state = result
    assert [name for name, _, _, _ in sink.emitted] == ["ItProblemExceptionDecided",
                                                        "ApplicationAccepted"]
    assert state.exception(exception_id).status == "granted"  # type: ignore[union-attr]
    assert (await read_application(database, application_id, {"caseworker"}, None)) == state

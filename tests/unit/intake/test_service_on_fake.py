"""Intake's command handlers (services/intake/service.py: handle_submissions, record_pool_events,
report_it_problem, decide_it_problem) on a fake unit of work (tests/unit/servicekit/
fake_database.py; its forms, intake's set-based load and save included, are held to
PostgreSQL's behaviour by the shared suite): what a handler stores (the application rows and
their columns, the submission index, pools and the register), what it emits (under which
aggregate id, with which cause and time), and that a refusal stores nothing. What the domain
decides is pinned by the domain's own tests; the same handlers on PostgreSQL are
tests/integration/intake/test_service_layer.py and test_batches.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from contracts.assessment import PoolPublished
from contracts.base import Actor
from contracts.envelope import Envelope
from contracts.refusal import Refusal
from contracts.register import Organisation, OrganisationRecorded
from contracts.reporting import ReportOverdue
from servicekit.identity import AuthError, Principal
from servicekit.outbox import Cause
from services.intake.domain import ApplicationState, parse_submission
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
from tests.unit.intake.factories import (
    APP, CVR_AARHUS, CVR_KBH, DEADLINE, POOL_ID, contact, decision, pool_definition, published,
    submission, uid,
)
from tests.unit.servicekit.fake_database import FakePool, FakeService

CAUSE = Cause(actor=Actor(id="employee-1", role="applicant"), correlation_id="c-1")
ON_TIME = DEADLINE - timedelta(hours=1)


def principal(cvr: str | None = CVR_AARHUS, *roles: str) -> Principal:
    roles = roles or ("applicant",)
    claims: dict[str, Any] = {"sub": f"someone-{cvr}", "roles": list(roles)}
    if cvr is not None:
        claims["cvr"] = cvr
    return Principal(subject=claims["sub"], roles=frozenset(roles), cvr=cvr, claims=claims)


def register_entry(cvr: str, name: str, municipality: str, revision: int = 1
                   ) -> OrganisationRecorded:
    return OrganisationRecorded(
        revision=revision, entry_version=1, change="created", source="intake-unit",
        source_version=1, changed_by="svc-assessment",
        organisation=Organisation(cvr=cvr, name=name, kind="municipality",
                                  municipality_code=municipality))


REGISTER = (register_entry(CVR_AARHUS, "Aarhus Kommune", "751"),
            register_entry(CVR_KBH, "Københavns Kommune", "101", revision=2))


async def published_service(pool: PoolPublished | None = None) -> FakeService:
    """A service whose pools consumer has stored the pool and the register."""
    svc = FakeService(datetime(2022, 9, 1, 8, 0, tzinfo=UTC))
    pool = pool or published()
    stored, emitted = await svc.handle(record_pool_events, RecordPoolEvents([*REGISTER, pool]))
    assert stored == [pool] and emitted == []
    return svc


def sent(n: int = 1, who: Principal | AuthError | None = None, now: datetime = ON_TIME,
         refusal_key: str | None = None, **overrides: Any) -> Submission:
    command = submission(n, **overrides).model_dump(mode="json")
    return Submission(parse_submission(command), principal() if who is None else who, now, CAUSE,
                      refusal_key=refusal_key)


async def decide(svc: FakeService, *subs: Submission, pools: PoolCache | None = None
                 ) -> tuple[list[Any], list[Envelope[Any]]]:
    result: list[Any]
    result, emitted = await svc.handle(handle_submissions, DecideSubmissions(
        list(subs), pools or PoolCache(), svc.clock))
    return result, emitted


def table(svc: FakeService, name: str) -> dict[Any, dict[str, Any]]:
    return svc.db.tables.get(name, {})


def names(emitted: list[Envelope[Any]]) -> list[tuple[str, str]]:
    return [(type(e.payload).__name__, e.aggregate_id) for e in emitted]


async def test_record_pool_events_keeps_the_latest_pool_and_register_entry() -> None:
    pool = published(version=2)
    svc = await published_service(pool)
    store = IntakeStore(svc.conn)
    assert await store.pool(POOL_ID) == pool
    assert set(await store.organisations([CVR_AARHUS, CVR_KBH, "12345678"])) == {CVR_AARHUS,
                                                                                 CVR_KBH}
    older = published(pool_definition(title="older"), version=1)
    renamed = register_entry(CVR_KBH, "renamed, older revision", "101", revision=1)
    stored, emitted = await svc.handle(record_pool_events, RecordPoolEvents(
        [older, renamed, ReportOverdue.model_construct()]))  # not intake's: passed over
    assert stored == [older] and emitted == []  # handed to the cache, which keeps the latest
    assert await store.pool(POOL_ID) == pool
    kbh = (await store.organisations([CVR_KBH]))[CVR_KBH]
    assert (kbh.organisation.name, kbh.revision) == ("Københavns Kommune", 2)


async def test_a_new_application_is_stored_indexed_and_emitted_under_its_id() -> None:
    svc = await published_service()
    (first, repeat), emitted = await decide(svc, sent(1), sent(1))
    assert first.answer == "ok" and first.receipt.status == "on_time"
    assert repeat.events == () and repeat.receipt == first.receipt  # the repeat: no effect
    assert names(emitted) == [("ApplicationReceived", str(APP)), ("ApplicationAccepted", str(APP))]
    assert {(e.correlation_id, e.occurred_at) for e in emitted} == {("c-1", ON_TIME)}
    row = table(svc, "applications")[APP]
    assert (row["applicant_cvr"], row["pool_id"]) == (CVR_AARHUS, POOL_ID)  # the columns too
    state = await read_application(FakePool(svc.db), APP, {"applicant"}, CVR_AARHUS)  # type: ignore[arg-type]
    assert state.applicant_cvr == CVR_AARHUS and len(state.versions) == 1
    index = table(svc, "submission_index")[uid(1)]
    assert (index["application_id"], index["submitter_cvr"]) == (APP, CVR_AARHUS)
    assert await read_receipt(FakePool(svc.db), uid(1), CVR_AARHUS) == first.receipt  # type: ignore[arg-type]
    with pytest.raises(Refusal) as refused:
        await read_receipt(FakePool(svc.db), uid(1), CVR_KBH)  # type: ignore[arg-type]
    assert refused.value.code == "cvr_mismatch"
    assert svc.db.commits == 2  # the pools' batch and this one: one transaction each


async def test_a_batch_stores_what_deciding_one_by_one_stores() -> None:
    """A resubmission, a reused submission id and a second application in one batch, then the
    same submissions in batches of one: the same decisions, rows, index and events."""
    other = UUID(int=2000)
    subs = [sent(1), sent(2, purpose="a second version"),
            sent(2, application_id=other),  # submission 2 again, for another application
            sent(3, application_id=other)]
    together = await published_service()
    decided, emitted = await decide(together, *subs)
    alone = await published_service()
    one_by_one: list[Any] = []
    emitted_alone: list[Envelope[Any]] = []
    for sub in subs:
        (one,), events = await decide(alone, sub)
        one_by_one.append(one)
        emitted_alone += events
    assert decided == one_by_one
    assert [d.answer for d in decided] == ["ok", "ok", "invalid", "ok"]
    assert names(emitted) == names(emitted_alone)
    assert [e.payload for e in emitted] == [e.payload for e in emitted_alone]
    for name in ("applications", "submission_index"):
        assert _without_stamps(table(together, name)) == _without_stamps(table(alone, name))
    state = ApplicationState.model_validate_json(table(together, "applications")[APP]["state"])
    assert [v.submission_id for v in state.versions] == [uid(1), uid(2)]
    assert table(together, "submission_index")[uid(2)]["application_id"] == APP  # the first's


def _without_stamps(rows: dict[Any, dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    return {k: {c: v for c, v in row.items() if c not in ("updated_at", "created_at")}
            for k, row in rows.items()}


async def test_a_refused_token_is_recorded_nowhere_and_leaves_the_id_free() -> None:
    svc = await published_service()
    expired = AuthError(401, "token_expired")
    decisions, emitted = await decide(svc, sent(1, expired), sent(1, expired, refusal_key="key"))
    assert [d.answer for d in decisions] == ["unauthenticated"] * 2
    # over HTTP nothing; on the portal topic the refusal, under the record's key, with no id
    assert [(type(e.payload).__name__, e.aggregate_id, e.payload.submission_id)
            for e in emitted] == [("SubmissionUnauthorized", "key", None)]
    assert table(svc, "applications") == {} and table(svc, "submission_index") == {}
    (owner,), _ = await decide(svc, sent(1))
    assert owner.receipt.status == "on_time"


async def test_another_organisations_claim_is_released_for_the_owner_in_the_same_batch() -> None:
    """Copenhagen's token sends Aarhus's submission first (cvr_mismatch: recorded nowhere), the
    rightful owner the same submission id next: the id the batch claimed for the first is bound
    by the second, with the owner's cvr (settle_claims)."""
    svc = await published_service()
    (stranger, owner), emitted = await decide(
        svc, sent(1, principal(CVR_KBH), refusal_key="key"), sent(1))
    assert (stranger.answer, owner.answer) == ("forbidden", "ok")
    assert names(emitted) == [("SubmissionUnauthorized", "key"),
                              ("ApplicationReceived", str(APP)), ("ApplicationAccepted", str(APP))]
    index = table(svc, "submission_index")[uid(1)]
    assert (index["application_id"], index["submitter_cvr"]) == (APP, CVR_AARHUS)
    svc = await published_service()
    (stranger,), _ = await decide(svc, sent(1, principal(CVR_KBH)))
    assert stranger.answer == "forbidden"
    assert table(svc, "submission_index") == {}  # released
    assert await IntakeStore(svc.conn).read_application(APP) == ApplicationState(
        application_id=APP)  # the row the lock made, with nothing on it


async def test_an_unreadable_submission_is_kept_on_its_application_or_by_its_id() -> None:
    svc = await published_service()
    garbled = parse_submission(b'{"submission_id": "%s", "application_id": "%s", "budget": 1}'
                               % (str(uid(7)).encode(), str(APP).encode()))
    nameless = parse_submission(b'{"submission_id": "%s"}' % str(uid(8)).encode())
    decisions, emitted = await decide(svc, Submission(garbled, principal(), ON_TIME, CAUSE),
                                      Submission(nameless, principal(), ON_TIME, CAUSE))
    assert [d.answer for d in decisions] == ["invalid", "invalid"]
    assert [aggregate for _, aggregate in names(emitted)] == [str(APP), str(uid(8))]
    state = ApplicationState.model_validate_json(table(svc, "applications")[APP]["state"])
    assert [r.submission_id for r in state.refused_submissions] == [uid(7)]
    assert state.applicant_cvr is None  # garbage binds no organisation


async def test_a_stale_cached_pool_is_read_again_from_its_row() -> None:
    """The cache holds version 1 (deadline passed); the row is version 2 with a later deadline:
    the submission is decided with the row, and the cache takes it."""
    later = pool_definition(deadline_local="2022-09-30T12:00:00")
    svc = await published_service(published(later, version=2))
    cache = PoolCache()
    cache.put(published())
    (on_time,), _ = await decide(svc, sent(1, now=DEADLINE + timedelta(hours=1)), pools=cache)
    assert on_time.receipt.status == "on_time"
    assert cache.versions([POOL_ID]) == {POOL_ID: 2}


async def test_an_it_problem_contact_and_its_decision() -> None:
    svc = await published_service()
    (late,), _ = await decide(svc, sent(1, now=DEADLINE + timedelta(hours=1)))
    assert late.receipt.status == "late_rejected"
    roles: list[str] = []

    def caller(who: Principal) -> Caller:
        def cause_as(role: str) -> Cause:
            roles.append(role)
            return Cause(actor=Actor(id=who.subject, role=role), correlation_id="c-2")
        return Caller(who.roles, who.cvr, who.claims, cause_as)

    contacted = DEADLINE + timedelta(hours=2)

    def report(applicant_cvr: str) -> Any:
        return contact(contacted, cvr=applicant_cvr)

    (decided, state), emitted = await svc.handle(report_it_problem, ReportContact(
        APP, POOL_ID, report, caller(principal(None, "caseworker")), contacted, PoolCache()))
    assert decided.answer == "created" and roles == ["caseworker"]
    assert names(emitted) == [("ItProblemExceptionRequested", str(APP))]
    assert emitted[0].payload.applicant_cvr == CVR_AARHUS  # the application's organisation
    assert emitted[0].correlation_id == "c-2"
    record = state.exception(uid(500))
    assert record is not None and record.status == "pending"
    assert await IntakeStore(svc.conn).read_application(APP) == state
    before = dict(table(svc, "applications")[APP])
    with pytest.raises(Refusal):  # another organisation's applicant
        await svc.handle(report_it_problem, ReportContact(
            APP, POOL_ID, report, caller(principal(CVR_KBH)), contacted, PoolCache()))
    assert table(svc, "applications")[APP] == before and svc.db.rollbacks == 1
    (decided, state), emitted = await svc.handle(decide_it_problem, DecideException(
        decision(True), caller(principal("11111111", "caseworker")),
        DEADLINE + timedelta(hours=3), PoolCache()))
    assert names(emitted) == [("ItProblemExceptionDecided", str(APP)),
                              ("ApplicationAccepted", str(APP))]
    assert state.exception(uid(500)).status == "granted"  # type: ignore[union-attr]
    assert await IntakeStore(svc.conn).read_application(APP) == state

"""The intake service end to end on the real broker and PostgreSQL: both ways in (HTTP and the
portal topic) give the same receipts and events; authentication and authorisation; duplicates;
the deadline at the millisecond; IT-problem exceptions; who may read a receipt or a record."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.integration.intake.conftest import (
    CVR, CVR_OTHER, DEADLINE, MS, Intake, types, valid_submission,
)

pytestmark = pytest.mark.integration
HOUR = timedelta(hours=1)
ID_KEYS = ("submission_id", "application_id", "event_id", "correlation_id", "causation_id",
           "aggregate_id", "occurred_at")


def _without_ids(value: Any, ids: dict[str, str]) -> Any:
    """``value`` with the given ids replaced by their role names, for comparing two paths."""
    text = json.dumps(value, sort_keys=True)
    for real, name in ids.items():
        text = text.replace(real, name)
    return json.loads(text)


def _payloads(envelopes: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(e["event_type"], e["payload"]) for e in envelopes]


async def _both_ways(intake: Intake, body: dict[str, Any], at: datetime, *,
                     token: str | None, key: str | None = None
                     ) -> tuple[Any, Any, list[dict[str, Any]], list[dict[str, Any]]]:
    """Send ``body`` over HTTP and a copy with fresh ids over the portal topic."""
    http_corr, topic_corr = f"http-{uuid.uuid4()}", f"topic-{uuid.uuid4()}"
    twin = dict(body, submission_id=str(uuid.uuid4()), application_id=str(uuid.uuid4()))
    response = await intake.post(body, at, token=token, correlation=http_corr)
    message: dict[str, Any] = {"submission": twin}
    if token is not None:
        message["token"] = token
    await intake.processed(await intake.publish(
        message, at, correlation=topic_corr, key=None if key is None else key.encode()))
    http_events = await intake.outbox(correlation=http_corr)
    topic_events = await intake.outbox(correlation=topic_corr)
    ids = {body["submission_id"]: "SID", twin["submission_id"]: "SID",
           body["application_id"]: "AID", twin["application_id"]: "AID"}
    return (response, twin, _without_ids(_payloads(http_events), ids),
            _without_ids(_payloads(topic_events), ids))


@pytest.mark.parametrize("case", ["on_time", "late", "invalid"])
async def test_both_ways_in_give_the_same_receipt_and_events(intake: Intake, case: str) -> None:
    body = valid_submission(intake.pool_id)
    at = DEADLINE - HOUR
    if case == "late":
        at = DEADLINE + HOUR
    if case == "invalid":
        body["budget"] = dict(body["budget"], total_oere=1)
    response, twin, http_events, topic_events = await _both_ways(intake, body, at,
                                                                 token=intake.token())
    expected_status = {"on_time": 200, "late": 200, "invalid": 422}[case]
    assert response.status_code == expected_status, response.text
    topic_receipt = await intake.get(f"/submissions/{twin['submission_id']}", at, intake.token())
    assert topic_receipt.status_code == 200, topic_receipt.text
    ids = {body["submission_id"]: "SID", twin["submission_id"]: "SID",
           body["application_id"]: "AID", twin["application_id"]: "AID"}
    assert _without_ids(response.json(), ids) == _without_ids(topic_receipt.json(), ids)
    assert http_events == topic_events
    assert [t for t, _ in http_events] == {
        "on_time": ["ApplicationReceived", "ApplicationAccepted"],
        "late": ["ApplicationReceived", "ApplicationRejectedLate"],
        "invalid": ["SubmissionInvalid"],
    }[case]
    assert response.json()["status"] == {"on_time": "on_time", "late": "late_rejected",
                                         "invalid": "invalid"}[case]
    if case == "invalid":
        assert [r["code"] for r in response.json()["reasons"]] == ["budget_total_mismatch"]


async def test_events_reach_kafka_keyed_by_application_with_the_callers_identity(
        intake: Intake) -> None:
    body = valid_submission(intake.pool_id)
    corr = f"kafka-{uuid.uuid4()}"
    response = await intake.post(body, DEADLINE - HOUR, token=intake.token(sub="employee-7"),
                                 correlation=corr)
    assert response.status_code == 200
    written = await intake.outbox(correlation=corr)
    published = await intake.kafka_events({e["event_id"] for e in written})
    assert [published[e["event_id"]] for e in written] == written
    for envelope in written:
        assert envelope["aggregate_id"] == body["application_id"]
        assert envelope["actor"] == {"id": "employee-7", "role": "applicant"}
        assert envelope["correlation_id"] == corr
        assert envelope["occurred_at"] == "2022-09-28T09:00:00Z"
    assert [e["sequence"] for e in written] == [1, 2]
    # the same events are on the audit chain, in the same transaction as the outbox
    chained = await intake.runtime.pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE event_id = ANY($1::uuid[])",
        [e["event_id"] for e in written])
    assert chained == 2


@pytest.mark.parametrize("problem", ["no_token", "wrong_cvr", "expired", "garbage", "no_role"])
async def test_auth_failures_on_both_paths(intake: Intake, problem: str) -> None:
    token = {
        "no_token": None,
        "wrong_cvr": intake.token(CVR_OTHER),
        "expired": intake.token(ttl_s=-3600),
        "garbage": "not-a-jwt",
        "no_role": intake.token(CVR, ("assessor",)),
    }[problem]
    status, code = {
        "no_token": (401, "token_missing"), "wrong_cvr": (403, "cvr_mismatch"),
        "expired": (401, "token_expired"), "garbage": (401, "token_invalid"),
        "no_role": (403, "role_not_allowed"),
    }[problem]
    body = valid_submission(intake.pool_id)
    key = str(uuid.uuid4())
    response, twin, http_events, topic_events = await _both_ways(intake, body, DEADLINE - HOUR,
                                                                 token=token, key=key)
    assert response.status_code == status
    assert "Traceback" not in response.text
    if status == 401:
        # refused before the body was read (servicekit.http_guard): a code, no receipt
        assert response.json()["error"] == code
        assert response.headers["www-authenticate"] == "Bearer"
    else:
        receipt = response.json()
        assert receipt["status"] == "unauthorized"
        assert receipt["submission_id"] == body["submission_id"] and receipt["version"] is None
        assert code in [r["code"] for r in receipt["reasons"]]
    # over HTTP an unauthenticated or unauthorised call writes nothing (issue 14.6); the topic
    # path answers with SubmissionUnauthorized keyed by the record's key, never by the ids the
    # body chose, and stores nothing of the body
    assert http_events == []
    assert [t for t, _ in topic_events] == ["SubmissionUnauthorized"]
    payload = topic_events[0][1]
    assert payload["status"] == status and code in [r["code"] for r in payload["reasons"]]
    assert payload["submission_id"] is None
    assert [e["aggregate_id"] for e in await intake.outbox(aggregate=key)] != []
    # nothing was stored as an application, and the submission id stays free for a retry
    for submission in (body, twin):
        retried = await intake.post(submission, DEADLINE - HOUR, token=intake.token())
        assert retried.status_code == 200, retried.text
        assert retried.json()["status"] == "on_time" and retried.json()["version"] == 1


async def test_the_same_submission_twice_has_one_effect_over_http_and_the_topic(
        intake: Intake) -> None:
    token = intake.token()
    at = DEADLINE - HOUR
    body = valid_submission(intake.pool_id)
    first = await intake.post(body, at, token=token)
    second = await intake.post(body, at + HOUR / 2, token=token)  # a resend, later
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    message = {"token": token, "submission": body}
    positions = [await intake.publish(message, at + HOUR / 2) for _ in range(2)]
    await intake.processed(*positions)
    events = await intake.outbox(aggregate=body["application_id"])
    assert types(events) == ["ApplicationReceived", "ApplicationAccepted"]

    # topic first, then HTTP
    other = valid_submission(intake.pool_id)
    positions = [await intake.publish({"token": token, "submission": other}, at)
                 for _ in range(3)]
    await intake.processed(*positions)
    again = await intake.post(other, at, token=token)
    assert again.status_code == 200 and again.json()["version"] == 1
    assert types(await intake.outbox(aggregate=other["application_id"])) == [
        "ApplicationReceived", "ApplicationAccepted"]

    # without an application id: the id derived from the submission id keeps it one application
    bare = valid_submission(intake.pool_id)
    del bare["application_id"]
    answers = [await intake.post(bare, at, token=token) for _ in range(2)]
    assert answers[0].json() == answers[1].json()
    derived = answers[0].json()["application_id"]
    assert types(await intake.outbox(aggregate=derived)) == [
        "ApplicationReceived", "ApplicationAccepted"]


async def test_a_submission_id_is_one_submission_of_one_application(intake: Intake) -> None:
    token = intake.token()
    at = DEADLINE - HOUR
    body = valid_submission(intake.pool_id)
    assert (await intake.post(body, at, token=token)).status_code == 200
    reused = dict(body, application_id=str(uuid.uuid4()))
    refused = await intake.post(reused, at, token=token)
    assert refused.status_code == 422
    assert [(r["code"], r["path"]) for r in refused.json()["reasons"]] == [
        ("application_id_conflict", "submission_id")]
    assert types(await intake.outbox(aggregate=reused["application_id"])) == ["SubmissionInvalid"]
    # the first application is untouched, and a new version there is version 2
    assert types(await intake.outbox(aggregate=body["application_id"])) == [
        "ApplicationReceived", "ApplicationAccepted"]
    v2 = dict(body, submission_id=str(uuid.uuid4()))
    assert (await intake.post(v2, at + MS, token=token)).json()["version"] == 2


@pytest.mark.parametrize("way", ["http", "topic"])
@pytest.mark.parametrize(("offset", "status"), [(-MS, "on_time"), (timedelta(0), "on_time"),
                                                (MS, "late_rejected")])
async def test_deadline_at_the_millisecond(intake: Intake, way: str, offset: timedelta,
                                           status: str) -> None:
    at = DEADLINE + offset
    # the client's own clock says well before the deadline: it never decides (R5)
    body = valid_submission(intake.pool_id, client_sent_at="2022-09-28T11:00:00+02:00")
    if way == "http":
        response = await intake.post(body, at, token=intake.token())
        assert response.status_code == 200
    else:
        await intake.processed(await intake.publish(
            {"token": intake.token(), "submission": body}, at))
    receipt = (await intake.get(f"/submissions/{body['submission_id']}", at,
                                intake.token())).json()
    assert receipt["status"] == status
    assert datetime.fromisoformat(receipt["received_at"]) == at
    assert receipt["received_at_local"] == at.astimezone(ZoneInfo("Europe/Copenhagen")).isoformat()
    events = await intake.outbox(aggregate=body["application_id"])
    received = events[0]["payload"]
    assert received["timeliness"] == ("on_time" if status == "on_time" else "late")
    assert datetime.fromisoformat(received["deadline"]) == DEADLINE
    if status == "late_rejected":
        assert types(events) == ["ApplicationReceived", "ApplicationRejectedLate"]
        assert events[1]["payload"]["reasons"] == ["deadline_passed"]
        assert [r["code"] for r in receipt["reasons"]] == ["deadline_passed"]
    else:
        assert types(events) == ["ApplicationReceived", "ApplicationAccepted"]


def _contact(intake: Intake, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"pool_id": intake.pool_id, "documentation": True,
                            "attempted_before_deadline": True,
                            "screenshot_at": (DEADLINE - timedelta(minutes=2)).isoformat(),
                            "evidence_refs": ["screenshot-1.png"]}
    body.update(overrides)
    return body


async def _post_contact(intake: Intake, application_id: str, body: dict[str, Any],
                        at: datetime, token: str | None = None,
                        key: str | None = None) -> Any:
    return await intake.client.post(
        f"/applications/{application_id}/it-problem-contacts", json=body,
        headers=intake.headers(at, token or intake.token(), key or f"contact-{uuid.uuid4()}"))


async def _decide(intake: Intake, application_id: str, approve: bool, at: datetime,
                  token: str | None = None) -> Any:
    return await intake.client.post(
        f"/applications/{application_id}/it-problem-decision", json={"approve": approve},
        headers=intake.headers(at, token or intake.caseworker()))


async def test_contact_before_the_deadline_granted_admits_a_late_version(intake: Intake) -> None:
    body = valid_submission(intake.pool_id)
    app_id = body["application_id"]
    contact = await _post_contact(intake, app_id, _contact(intake, screenshot_at=None,
                                                           attempted_before_deadline=False),
                                  DEADLINE - HOUR)
    assert contact.status_code == 201, contact.text
    assert contact.json()["status"] == "pending" and contact.json()["reasons"] == []
    # the applicant cannot decide their own exception
    assert (await _decide(intake, app_id, True, DEADLINE, intake.token())).status_code == 403
    decided = await _decide(intake, app_id, True, DEADLINE + HOUR)
    assert decided.status_code == 200, decided.text
    assert decided.json() == {"exception_id": contact.json()["exception_id"], "approved": True,
                              "application_status": "exception_granted"}
    late = await intake.post(body, DEADLINE + 2 * HOUR, token=intake.token())
    assert late.status_code == 200 and late.json()["status"] == "exception_granted"
    events = await intake.outbox(aggregate=app_id)
    assert types(events) == ["ItProblemExceptionRequested", "ItProblemExceptionDecided",
                             "ApplicationReceived", "ApplicationAccepted"]
    assert events[0]["payload"]["contact"] == "before_deadline"
    assert events[1]["payload"]["decided_by"] == "caseworker-1"
    assert events[1]["actor"] == {"id": "caseworker-1", "role": "caseworker"}
    assert events[3]["payload"]["basis"] == "exception_granted"
    assert events[3]["payload"]["exception_id"] == contact.json()["exception_id"]


async def test_contact_after_the_deadline_with_screenshot_granted(intake: Intake) -> None:
    body = valid_submission(intake.pool_id)
    app_id = body["application_id"]
    late = await intake.post(body, DEADLINE + timedelta(minutes=1), token=intake.token())
    assert late.json()["status"] == "late_rejected"
    key = f"contact-{uuid.uuid4()}"
    contact = await _post_contact(intake, app_id, _contact(intake), DEADLINE + HOUR, key=key)
    assert contact.status_code == 201 and contact.json()["status"] == "pending"
    # the same contact again (same request key): one effect
    again = await _post_contact(intake, app_id, _contact(intake), DEADLINE + HOUR, key=key)
    assert again.status_code == 200 and again.json() == contact.json()
    record = await intake.get(f"/applications/{app_id}", DEADLINE + HOUR, intake.token())
    assert record.json()["status"] == "exception_pending"
    # the console's queue shows it to a caseworker, to nobody else
    queue = await intake.get("/exceptions", DEADLINE + HOUR, intake.caseworker())
    assert queue.status_code == 200 and queue.json()["status"] == "pending"
    assert [(e["application_id"], e["exception_id"]) for e in queue.json()["exceptions"]
            if e["application_id"] == app_id] == [(app_id, contact.json()["exception_id"])]
    assert (await intake.get("/exceptions", DEADLINE + HOUR, intake.token())).status_code == 403
    decided = await _decide(intake, app_id, True, DEADLINE + 3 * HOUR)
    assert decided.json()["application_status"] == "exception_granted"
    receipt = await intake.get(f"/submissions/{body['submission_id']}", DEADLINE + 3 * HOUR,
                               intake.token())
    assert receipt.json()["status"] == "exception_granted"
    assert types(await intake.outbox(aggregate=app_id)) == [
        "ApplicationReceived", "ApplicationRejectedLate", "ItProblemExceptionRequested",
        "ItProblemExceptionDecided", "ApplicationAccepted"]
    # decided already: a second decision is a conflict, with a stable code and no trace
    twice = await _decide(intake, app_id, False, DEADLINE + 4 * HOUR)
    assert twice.status_code == 409 and twice.json()["error"] == "exception_already_decided"


async def test_contact_more_than_48_hours_after_the_deadline_is_refused(intake: Intake) -> None:
    app_id = str(uuid.uuid4())
    contact = await _post_contact(intake, app_id, _contact(intake), DEADLINE + 48 * HOUR + MS)
    assert contact.status_code == 201
    assert contact.json()["status"] == "refused"
    assert [r["code"] for r in contact.json()["reasons"]] == ["contact_after_48h"]
    at_48h = await _post_contact(intake, str(uuid.uuid4()), _contact(intake),
                                 DEADLINE + 48 * HOUR)
    assert at_48h.json()["status"] == "pending"
    # a rule-refused exception is not for a caseworker to decide
    decided = await _decide(intake, app_id, True, DEADLINE + 49 * HOUR)
    assert decided.status_code == 409


async def test_exception_refusals_without_effect(intake: Intake) -> None:
    app_id = str(uuid.uuid4())
    nothing = await _decide(intake, app_id, True, DEADLINE)
    assert nothing.status_code == 404 and nothing.json()["error"] == "exception_unknown"
    unknown_pool = await _post_contact(intake, app_id, _contact(intake, pool_id=f"unpublished-{uuid.uuid4().hex[:10]}"),
                                       DEADLINE)
    assert unknown_pool.status_code == 422 and unknown_pool.json()["error"] == "pool_unknown"
    bad_body = await _post_contact(intake, app_id, {"pool_id": intake.pool_id, "x": 1}, DEADLINE)
    assert bad_body.status_code == 422 and bad_body.json()["error"] == "invalid_request"
    no_token = await intake.client.post(f"/applications/{app_id}/it-problem-contacts",
                                        json={"x": 1})
    assert no_token.status_code == 401  # authentication before the body
    assert await intake.outbox(aggregate=app_id) == []
    missing = await intake.get(f"/applications/{app_id}", DEADLINE, intake.caseworker())
    assert missing.status_code == 404


async def test_status_queries_only_for_the_own_organisation(intake: Intake) -> None:
    at = DEADLINE - HOUR
    body = valid_submission(intake.pool_id)
    sid, app_id = body["submission_id"], body["application_id"]
    receipt = (await intake.post(body, at, token=intake.token())).json()
    own = await intake.get(f"/submissions/{sid}", at, intake.token(sub="colleague"))
    assert own.status_code == 200 and own.json() == receipt
    other = await intake.get(f"/submissions/{sid}", at, intake.token(CVR_OTHER))
    assert other.status_code == 403 and other.json()["error"] == "cvr_mismatch"
    assert "received_at" not in other.text
    assert (await intake.get(f"/submissions/{sid}", at, None)).status_code == 401
    assert (await intake.get(f"/submissions/{uuid.uuid4()}", at, intake.token())).status_code \
        == 404
    assert (await intake.get(f"/submissions/{sid}", at, intake.caseworker())).status_code == 403

    record = await intake.get(f"/applications/{app_id}", at, intake.token())
    assert record.status_code == 200
    assert record.json()["status"] == "on_time" and record.json()["reasons"] == []
    assert [v["submission_id"] for v in record.json()["versions"]] == [sid]
    assert record.json()["exceptions"] == []
    assert (await intake.get(f"/applications/{app_id}", at,
                             intake.token(CVR_OTHER))).status_code == 403
    assert (await intake.get(f"/applications/{app_id}", at,
                             intake.caseworker())).json() == record.json()
    # someone else's application id: refused, and the owner's record is not shown
    hijack = dict(valid_submission(intake.pool_id, cvr=CVR_OTHER, municipality="101"),
                  application_id=app_id)
    refused = await intake.post(hijack, at, token=intake.token(CVR_OTHER))
    assert refused.status_code == 422
    assert [r["code"] for r in refused.json()["reasons"]] == ["application_id_conflict"]
    assert refused.json()["version"] is None


async def test_openapi_documents_the_submission_body(intake: Intake) -> None:
    schema = (await intake.client.get("/openapi.json")).json()
    post = schema["paths"]["/submissions"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SubmitApplication"}
    assert {"200", "401", "403", "422"} <= set(post["responses"])
    assert "SubmitApplication" in schema["components"]["schemas"]


async def test_who_may_report_an_it_problem(intake: Intake) -> None:
    body = valid_submission(intake.pool_id)
    app_id = body["application_id"]
    # a caseworker records a phone call only for an application on record
    unbound = await _post_contact(intake, app_id, _contact(intake), DEADLINE + HOUR,
                                  token=intake.caseworker())
    assert unbound.status_code == 404 and unbound.json()["error"] == "application_unknown"
    await intake.post(body, DEADLINE + timedelta(minutes=1), token=intake.token())
    other = await _post_contact(intake, app_id, _contact(intake), DEADLINE + HOUR,
                                token=intake.token(CVR_OTHER))
    assert other.status_code == 409 and other.json()["error"] == "application_id_conflict"
    no_cvr = await _post_contact(intake, app_id, _contact(intake), DEADLINE + HOUR,
                                 token=intake.token(None))
    assert no_cvr.status_code == 403
    phoned = await _post_contact(intake, app_id, _contact(intake), DEADLINE + HOUR,
                                 token=intake.caseworker("caseworker-9"))
    assert phoned.status_code == 201 and phoned.json()["status"] == "pending"
    requested = (await intake.outbox(aggregate=app_id))[-1]
    assert requested["event_type"] == "ItProblemExceptionRequested"
    assert requested["payload"]["applicant_cvr"] == CVR
    assert requested["actor"] == {"id": "caseworker-9", "role": "caseworker"}
    bad_ref = await _post_contact(intake, app_id, _contact(intake, evidence_refs=["a\u0000b"]),
                                  DEADLINE + HOUR)
    assert bad_ref.status_code == 422 and bad_ref.json()["reasons"][0]["path"] == "evidence_refs.0"

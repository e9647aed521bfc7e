"""Issue 14 on intake, on the real broker and PostgreSQL: hostile input is refused at the edge
with a documented code, and what is refused writes nothing (or, on the portal topic, only the
refusal).

- findings 4 and 8: control characters and absurd amounts are refused with their codes
  (``text_control_character``, ``amount_too_large``) over HTTP and over the portal topic, so
  nothing downstream has to store them;
- finding 6: a write without a valid token writes nothing (no outbox row, no audit entry);
- finding 7: authentication comes before any body work; bodies are bounded while they stream;
- finding 9: the same invalid submission twice gets the same 422 and the same reasons;
- finding 3: a deeply nested message on the portal topic costs only itself: the valid
  submissions behind it in the same batch get their receipts.

Checked against the code before issue 14 (main at cdfee33): each test failed there (200
``on_time`` for the NUL and the 10^30 budget; 422 then 200 for the resend; rows in the outbox
for the anonymous POST; 422 instead of 401 for the malformed anonymous body).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from tests.integration.intake.conftest import DEADLINE, Intake, valid_submission

pytestmark = pytest.mark.integration
AT = DEADLINE - timedelta(hours=2)
MIB = 1024 * 1024


async def _written(intake: Intake) -> tuple[int, int]:
    outbox = await intake.runtime.pool.fetchval("SELECT count(*) FROM outbox")
    audit = await intake.runtime.pool.fetchval("SELECT count(*) FROM audit_log")
    return int(outbox), int(audit)


def _codes(body: dict[str, Any]) -> list[str]:
    return [r["code"] for r in body.get("reasons", [])]


NUL_FIELDS: list[tuple[str, Any]] = [
    ("applicant.name", lambda b: b["applicant"].update(name="Aarhus\u0000Kommune")),
    ("purpose", lambda b: b.update(purpose="family\u0000house")),
    ("description", lambda b: b.update(description="a house\u0000")),
    ("budget.lines.0.post", lambda b: b["budget"]["lines"][0].update(post="staff\u0000")),
    ("pool_id", lambda b: b.update(pool_id="pool\u0000")),
    ("applicant.name", lambda b: b["applicant"].update(name="Aarhus\nKommune")),  # one line
]


@pytest.mark.parametrize(("path", "mutate"), NUL_FIELDS,
                         ids=[f"{p}-{i}" for i, (p, _) in enumerate(NUL_FIELDS)])
async def test_control_characters_are_refused_on_both_paths(intake: Intake, path: str,
                                                            mutate: Any) -> None:
    body = valid_submission(intake.pool_id)
    mutate(body)
    response = await intake.post(body, AT, token=intake.token())
    assert response.status_code == 422, response.text
    assert "text_control_character" in _codes(response.json())
    # the portal topic: a SubmissionInvalid naming the field, never an accepted application
    twin = dict(json.loads(json.dumps(body)), submission_id=str(uuid.uuid4()),
                application_id=str(uuid.uuid4()))
    corr = f"nul-{uuid.uuid4()}"
    await intake.processed(await intake.publish({"token": intake.token(), "submission": twin},
                                                AT, correlation=corr))
    events = await intake.outbox(correlation=corr)
    assert [e["event_type"] for e in events] == ["SubmissionInvalid"]
    reasons = {(r["code"], r["path"]) for r in events[0]["payload"]["reasons"]}
    assert ("text_control_character", path) in reasons


@pytest.mark.parametrize("amount", [2**63, 10**30, 10**15 + 1])
async def test_absurd_amounts_are_refused_with_their_code(intake: Intake, amount: int) -> None:
    body = valid_submission(intake.pool_id)
    body["budget"] = {"lines": [{"post": "materials", "category": "other",
                                 "amount_oere": amount}], "total_oere": amount}
    response = await intake.post(body, AT, token=intake.token())
    assert response.status_code == 422, response.text
    assert {"amount_too_large"} == set(_codes(response.json()))
    corr = f"amount-{uuid.uuid4()}"
    twin = dict(body, submission_id=str(uuid.uuid4()), application_id=str(uuid.uuid4()))
    await intake.processed(await intake.publish({"token": intake.token(), "submission": twin},
                                                AT, correlation=corr))
    events = await intake.outbox(correlation=corr)
    assert [e["event_type"] for e in events] == ["SubmissionInvalid"]
    assert {r["code"] for r in events[0]["payload"]["reasons"]} == {"amount_too_large"}


async def test_the_ceiling_itself_is_accepted(intake: Intake) -> None:
    body = valid_submission(intake.pool_id)
    body["budget"] = {"lines": [{"post": "materials", "category": "other",
                                 "amount_oere": 10**15}], "total_oere": 10**15}
    response = await intake.post(body, AT, token=intake.token())
    assert response.status_code == 200 and response.json()["status"] == "on_time", response.text


async def test_the_same_invalid_submission_twice_gets_the_same_422(intake: Intake) -> None:
    body = valid_submission(intake.pool_id)
    body["budget"] = dict(body["budget"], total_oere=1)
    first = await intake.post(body, AT, token=intake.token())
    again = await intake.post(body, AT + timedelta(minutes=1), token=intake.token())
    assert first.status_code == again.status_code == 422
    assert first.json() == again.json()
    assert _codes(again.json()) == ["budget_total_mismatch"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not.a.jwt"}],
                         ids=["no-token", "garbage-token"])
async def test_an_anonymous_write_writes_nothing(intake: Intake, headers: dict[str, str]
                                                 ) -> None:
    before = await _written(intake)
    for content in (json.dumps(valid_submission(intake.pool_id)).encode(), b"{not json",
                    b"[" * 50_000):
        response = await intake.client.post(
            "/submissions", content=content,
            headers={**headers, "X-Grants-Simulated-Time": AT.isoformat()})
        assert response.status_code == 401, response.text
        assert response.json()["error"] in ("token_missing", "token_invalid")
    assert await _written(intake) == before


async def test_authentication_comes_before_the_body_and_bodies_are_bounded(
        intake: Intake) -> None:
    big = b'{"pool_id": "' + b"x" * (3 * MIB) + b'"}'
    # no token: 401, even though the body is too large (nothing of it was read)
    anonymous = await intake.client.post("/submissions", content=big)
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "token_missing"
    token = {"Authorization": f"Bearer {intake.token()}"}
    declared = await intake.client.post("/submissions", content=big, headers=token)
    assert declared.status_code == 413 and declared.json()["error"] == "body_too_large"

    async def streamed() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(3 * 16):
            yield b"x" * (64 * 1024)

    chunked = await intake.client.post("/submissions", content=streamed(), headers=token)
    assert chunked.status_code == 413 and chunked.json()["error"] == "body_too_large"


async def test_deeply_nested_http_bodies_are_json_invalid(intake: Intake) -> None:
    token = {"Authorization": f"Bearer {intake.token()}"}
    for content in (b"[" * 50_000, b"[" * 100 + b"]" * 100):
        response = await intake.client.post("/submissions", content=content, headers=token)
        assert response.status_code == 422 and response.json()["error"] == "json_invalid"
    contact = await intake.client.post(f"/applications/{uuid.uuid4()}/it-problem-contacts",
                                       content=b'{"pool_id": "' + b"[" * 50_000 + b'"}',
                                       headers=token)
    assert contact.status_code < 500


async def test_a_nested_message_costs_only_itself_on_the_portal_topic(intake: Intake) -> None:
    corr = f"nested-{uuid.uuid4()}"
    nested = await intake.publish(b"[" * 50_000, AT, correlation=corr)
    valid = [valid_submission(intake.pool_id) for _ in range(3)]
    positions = [await intake.publish({"token": intake.token(), "submission": b}, AT)
                 for b in valid]
    await intake.processed(nested, *positions)
    for body in valid:
        events = await intake.outbox(aggregate=body["application_id"])
        assert [e["event_type"] for e in events] == ["ApplicationReceived",
                                                     "ApplicationAccepted"]
    # it is answered (no token can be read from it: refused as unauthenticated), not skipped
    answered = await intake.outbox(correlation=corr)
    assert [e["event_type"] for e in answered] == ["SubmissionUnauthorized"]
    assert {r["code"] for r in answered[0]["payload"]["reasons"]} == {"token_missing"}


async def test_an_rs256_token_is_a_401_on_both_paths(intake: Intake) -> None:
    """Finding 5: an RS256 token against the Ed25519-configured service was a 500 over HTTP and
    a dead letter without a receipt on the portal topic."""
    import time

    import jwt
    from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key

    now = int(time.time())
    token = jwt.encode({"iss": intake.issuer.issuer, "aud": intake.issuer.audience,
                        "sub": "p-1", "roles": ["applicant"], "cvr": "29189846", "exp": now + 600},
                       generate_private_key(public_exponent=65537, key_size=2048),
                       algorithm="RS256")
    response = await intake.post(valid_submission(intake.pool_id), AT, token=token)
    assert response.status_code == 401 and response.json()["error"] == "token_invalid"
    corr = f"rs256-{uuid.uuid4()}"
    dead_before = intake.portal_consumer.dead_lettered
    await intake.processed(await intake.publish(
        {"token": token, "submission": valid_submission(intake.pool_id)}, AT, correlation=corr))
    answered = await intake.outbox(correlation=corr)
    assert [e["event_type"] for e in answered] == ["SubmissionUnauthorized"]
    assert intake.portal_consumer.dead_lettered == dead_before

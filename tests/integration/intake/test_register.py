"""Issue 15 on the real broker and PostgreSQL: intake takes the applicant from its projection of
the organisation register (``OrganisationRecorded`` on the pools topic), by the token's CVR.

Checked to fail without the change: with intake storing the typed applicant (the register lookup
in ``decide_submission`` removed), the contradicting submissions are accepted and the stored
applicant is the typed one.
"""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

import pytest

from contracts import topics
from contracts.register import Organisation, OrganisationRecorded
from tests.infra.services import envelope_bytes, eventually
from tests.integration.intake.conftest import CVR, DEADLINE, Intake, valid_submission

pytestmark = pytest.mark.integration
AT = DEADLINE - timedelta(hours=2)


def fresh_cvr() -> str:
    """A CVR number no other test uses (valid modulus 11)."""
    while True:
        digits = [int(d) for d in f"{random.randrange(10**6, 10**7):07d}"]
        check = -sum(w * d for w, d in zip((2, 7, 6, 5, 4, 3, 2), digits)) % 11
        if check < 10:
            return "".join(map(str, digits)) + str(check)


def _codes(response) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(r["code"], r["path"]) for r in response.json()["reasons"]]


async def test_a_typed_region_or_municipality_that_contradicts_the_register_is_refused(
        intake: Intake) -> None:
    for applicant, path in (({"municipality_code": "101"}, "applicant.municipality_code"),
                            ({"region_code": "1084"}, "applicant.region_code"),
                            ({"kind": "voluntary_organisation"}, "applicant.kind")):
        body = valid_submission(intake.pool_id)
        body["applicant"] = {**body["applicant"], **applicant}
        response = await intake.post(body, AT, token=intake.token())
        assert response.status_code == 422, response.text
        assert _codes(response) == [("applicant_register_mismatch", path)]
        assert response.json()["status"] == "invalid"


async def test_the_stored_applicant_is_the_registers_with_its_revision(intake: Intake) -> None:
    body = valid_submission(intake.pool_id)
    body["applicant"] = {**body["applicant"], "name": "what the portal typed"}
    correlation = f"register-{uuid.uuid4()}"
    response = await intake.post(body, AT, token=intake.token(), correlation=correlation)
    assert response.status_code == 200, response.text
    received = next(e for e in await intake.outbox(correlation=correlation)
                    if e["event_type"] == "ApplicationReceived")["payload"]
    assert received["applicant"] == {"cvr": CVR, "municipality_code": "751",
                                     "name": "Aarhus Kommune", "kind": "municipality",
                                     "region_code": "1082"}
    assert received["register_revision"] == 1


async def test_an_unregistered_cvr_is_refused_then_admitted_once_registered(
        intake: Intake) -> None:
    cvr = fresh_cvr()  # registered by this test only
    body = valid_submission(intake.pool_id, cvr=cvr, municipality="147")
    response = await intake.post(body, AT, token=intake.token(cvr))
    assert response.status_code == 422 and _codes(response) == [("applicant_unknown",
                                                                 "applicant.cvr")]
    organisation = Organisation(cvr=cvr, name="Frederiksberg Frivilligcenter",
                                kind="voluntary_organisation", municipality_code="147")
    event = OrganisationRecorded(revision=10**6, entry_version=1, change="created",
                                 organisation=organisation, source="caseworker",
                                 changed_by="cw-it")
    await intake.feed.produce(topics.ASSESSMENT_POOLS.name, "register:organisations",
                              envelope_bytes(event, "register:organisations"))

    async def known() -> bool:
        return bool(await intake.runtime.pool.fetchval(
            "SELECT 1 FROM organisations WHERE cvr = $1", cvr))

    await eventually(known, timeout=30)
    again = valid_submission(intake.pool_id, cvr=cvr, municipality="147")
    again["applicant"] = {**again["applicant"], "kind": "voluntary_organisation"}
    admitted = await intake.post(again, AT, token=intake.token(cvr))
    assert admitted.status_code == 200, admitted.text
    assert admitted.json()["status"] == "on_time"

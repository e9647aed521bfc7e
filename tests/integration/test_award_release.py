"""A withdrawn or lapsed award funds the next application in rank (issue 16 item 5), on the real
broker and PostgreSQL: assessment and payments run in-process on a broker of the test's own,
each with its own database; intake's events are produced as intake would.

Flow: two applications in one sub-pool, the better one awarded, the other ``sub_pool_exhausted``;
a caseworker withdraws the award in payments (``AwardLapsed`` reason ``withdrawn``); assessment
consumes it and frees the money; the next allocation run (another approver) awards the second
application (and the third, which fits what remains) in rank order, to the øre; payments opens
their accounts from the same decisions topic.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from contracts import topics
from servicekit.identity import DevTokenIssuer
from services.assessment.app import build as build_assessment
from services.payments.app import build as build_payments
from tests.infra.services import Feed, Tokens, eventually, running_service
from tests.integration.assessment.test_assessment_service import intake_events
from tests.unit.assessment.builders import pool_raw, scores_summing

pytestmark = pytest.mark.integration
WAIT = 30.0


async def _decision(http: httpx.AsyncClient, app: uuid.UUID, headers: dict[str, str]
                    ) -> dict[str, Any] | None:
    response = await http.get(f"/applications/{app}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["decision"]  # type: ignore[no-any-return]


async def test_a_withdrawn_award_funds_the_next_in_rank(
    private_kafka: str, two_databases: tuple[str, str], tmp_path: Path,
) -> None:
    run = uuid.uuid4().hex[:8]
    pool_id = f"it-release-{run}"
    # Midtjylland 1,000,000 DKK: FIRST 600,000 wins, SECOND 500,000 does not fit beside it.
    raw = pool_raw(pool_id=pool_id, programme=f"it-programme-{run}", total_dkk=1_000_000,
                   sub_pools=[{"region_code": "1082", "region": "Midtjylland",
                               "amount_dkk": 1_000_000}])
    issuer = DevTokenIssuer(tmp_path)
    token = Tokens(issuer)
    caseworker, reader = token("case-1", "caseworker"), token("reader", "caseworker")
    assessment_db, payments_db = two_databases
    producer = AIOKafkaProducer(bootstrap_servers=private_kafka, acks="all")
    await producer.start()
    try:
        async with running_service(build_assessment, private_kafka, assessment_db, issuer,
                                   name="assessment", simulation=True) as (_a, assessment), \
                running_service(build_payments, private_kafka, payments_db, issuer,
                                name="payments", simulation=True) as (_p, payments):
            assert (await assessment.post("/pools", json=raw, headers=caseworker)
                    ).status_code == 201
            feed = Feed(producer)
            apps: dict[str, uuid.UUID] = {}
            for ref, municipality, dkk in (("FIRST", "615", 600_000), ("SECOND", "657", 500_000),
                                           ("THIRD", "751", 450_000)):
                apps[ref], values = intake_events(pool_id, municipality, dkk)
                for value in values:
                    await feed.produce(topics.INTAKE_APPLICATIONS.name, apps[ref], value)

            async def eligible() -> bool:
                for app in apps.values():
                    r = await assessment.get(f"/applications/{app}", headers=reader)
                    if r.status_code != 200 or r.json()["eligibility"] is None:
                        return False
                return True
            await eventually(eligible, timeout=WAIT)
            for ref, total in (("FIRST", 24), ("SECOND", 20), ("THIRD", 15)):
                scored = await assessment.post(
                    f"/applications/{apps[ref]}/scores", headers=token("assessor-a", "assessor"),
                    json={"scores": scores_summing(total, first=5),
                          "justification": "as described"})
                assert scored.status_code == 201, scored.text
            first_run = await assessment.post(f"/pools/{pool_id}/allocations", json={},
                                              headers=token("approver-x", "approver"))
            assert first_run.status_code == 200, first_run.text
            outcome = {d["application_id"]: (d["decision"], d["reasons"])
                       for d in first_run.json()["decisions"]}
            assert outcome[str(apps["FIRST"])] == ("awarded", [])
            assert outcome[str(apps["SECOND"])] == ("rejected", ["sub_pool_exhausted"])
            assert outcome[str(apps["THIRD"])] == ("rejected", ["sub_pool_exhausted"])

            # -- payments opens the grant; a caseworker withdraws it --------------------------
            first = apps["FIRST"]

            async def opened() -> bool:
                r = await payments.get(f"/grants/{first}", headers=caseworker)
                return r.status_code == 200
            await eventually(opened, timeout=WAIT)
            grantee_token = token("grantee", "applicant", cvr="12345678")
            refused = await payments.post(f"/grants/{first}/withdrawal", json={},
                                          headers=grantee_token)
            assert refused.status_code == 403
            withdrawn = await payments.post(f"/grants/{first}/withdrawal", json={},
                                            headers=caseworker)
            assert withdrawn.status_code == 200, withdrawn.text
            assert withdrawn.json()["reason"] == "withdrawn"
            assert withdrawn.json()["decided_by"] == "case-1"
            again = await payments.post(f"/grants/{first}/withdrawal", json={},
                                        headers=caseworker)
            assert again.status_code == 200 and again.json() == withdrawn.json()
            status = (await payments.get(f"/grants/{first}", headers=caseworker)).json()
            assert status["status"] == "lapsed"

            # -- assessment frees the money; allocation run again awards the next in rank ----
            async def released() -> bool:
                decision = await _decision(assessment, first, reader)
                return decision is not None and decision["released"] == "withdrawn"
            await eventually(released, timeout=WAIT)
            overview = (await assessment.get(f"/pools/{pool_id}/overview", headers=reader)).json()
            sub = overview["sub_pools"][0]
            assert (sub["awarded_oere"], sub["remaining_oere"]) == (0, 100_000_000)
            assert sub["applications"]["released"] == [str(first)]

            # an approver who scored may not approve the re-run (segregation of duties)
            conflicted = await assessment.post(f"/pools/{pool_id}/allocations", json={},
                                               headers=token("assessor-a", "approver"))
            assert conflicted.status_code == 403
            assert conflicted.json()["error"] == "segregation_of_duties"
            second_run = await assessment.post(f"/pools/{pool_id}/allocations", json={},
                                               headers=token("approver-y", "approver"))
            assert second_run.status_code == 200, second_run.text
            decided = {d["application_id"]: d for d in second_run.json()["decisions"]}
            assert set(decided) == {str(apps["SECOND"]), str(apps["THIRD"])}
            assert decided[str(apps["SECOND"])]["decision"] == "awarded"
            assert decided[str(apps["SECOND"])]["amount_oere"] == 50_000_000
            assert decided[str(apps["SECOND"])]["rank"] == 2
            assert decided[str(apps["THIRD"])]["amount_oere"] == 45_000_000
            overview = (await assessment.get(f"/pools/{pool_id}/overview", headers=reader)).json()
            assert overview["sub_pools"][0]["awarded_oere"] == 95_000_000
            assert overview["sub_pools"][0]["remaining_oere"] == 5_000_000
            # nothing is awarded twice: a third run decides nothing
            third_run = await assessment.post(f"/pools/{pool_id}/allocations", json={},
                                              headers=token("approver-y", "approver"))
            assert third_run.json()["decisions"] == []

            # payments opens accounts for the new awards from the same consumer path
            async def both_opened() -> bool:
                for ref in ("SECOND", "THIRD"):
                    r = await payments.get(f"/grants/{apps[ref]}", headers=caseworker)
                    if r.status_code != 200:
                        return False
                return True
            await eventually(both_opened, timeout=WAIT)
    finally:
        await producer.stop()

"""The assessment service on the real broker and PostgreSQL, run in-process.

Intake's events are produced onto ``grants.intake.applications.v1`` as intake would; commands go
through the HTTP API with signed tokens; effects are read from the service's outbox and audit
tables and, for the decisions, back from Kafka.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from contracts import topics
from contracts.base import Applicant
from contracts.intake import ApplicationAccepted, ApplicationReceived
from contracts.municipalities import region_of
from grants.scenario.demo import cvr_for
from servicekit import audit_chain
from servicekit.identity import DevTokenIssuer
from servicekit.service import ServiceRuntime
from services.assessment.app import build
from tests.infra.services import (
    Feed, Tokens, audit_rows, chain_entries, envelope_bytes, envelope_field, event_of, eventually,
    outbox_events, read_topic, running_service,
)
from tests.unit.assessment.builders import FULL, PURPOSE, TARGET, budget, pool_raw, scores_summing

pytestmark = pytest.mark.integration
INTAKE = topics.INTAKE_APPLICATIONS.name
DKK = 100
WAIT = 20.0  # seconds for the service to consume what was produced


# -- helpers ---------------------------------------------------------------------------------------

def intake_events(pool_id: str, municipality: str, applied_dkk: int,
                  target_group: str = TARGET) -> tuple[uuid.UUID, list[bytes]]:
    """ApplicationReceived + ApplicationAccepted envelopes of one new application."""
    application_id, submission_id = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    received = ApplicationReceived(
        submission_id=submission_id, application_id=application_id, version=1, pool_id=pool_id,
        applicant=Applicant(cvr=cvr_for(municipality), municipality_code=municipality,
                            name=f"Kommune {municipality}", region_code=region_of(municipality)),
        register_revision=1,
        purpose=PURPOSE, target_group=target_group, budget=budget(applied_dkk * DKK),
        received_at=now, received_at_local=now.isoformat(), deadline=now + timedelta(days=1),
        timeliness="on_time")
    accepted = ApplicationAccepted(application_id=application_id, submission_id=submission_id,
                                   version=1, pool_id=pool_id, basis="on_time")
    key = str(application_id)
    return application_id, [envelope_bytes(received, key, sequence=1, actor_id="svc-intake"),
                            envelope_bytes(accepted, key, sequence=2, actor_id="svc-intake")]


async def eligibility_of(runtime: ServiceRuntime) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for e in await outbox_events(runtime, "EligibilityAssessed"):
        found.setdefault(e["payload"]["application_id"], []).append(e["payload"])
    return found


async def read_decisions(kafka: str, wanted: set[str]) -> dict[str, dict[str, Any]]:
    """Events on the decisions topic whose aggregate id is in ``wanted`` (from offset 0)."""
    records = await read_topic(
        kafka, topics.ASSESSMENT_DECISIONS.name,
        lambda r: envelope_field(r, "aggregate_id") in wanted,
        enough=lambda found: wanted <= {envelope_field(r, "aggregate_id") for r in found})
    return {event_of(r)["aggregate_id"]: event_of(r) for r in records}


# -- the test --------------------------------------------------------------------------------------

async def test_pool_eligibility_scores_allocation_and_redelivery(
    kafka_bootstrap: str, fresh_database: str, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    pool_id, later_pool_id, programme = f"it-{run}", f"it-{run}-later", f"it-programme-{run}"
    raw = pool_raw(pool_id=pool_id, programme=programme)
    issuer = DevTokenIssuer(tmp_path)
    token = Tokens(issuer)
    caseworker = token("case-1", "caseworker")

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        async with running_service(build, kafka_bootstrap, fresh_database, issuer,
                                   name="assessment") as (runtime, http):
            intake = Feed(producer)

            # -- pools: publish, same content → same version, invalid → 422 naming the field ----
            assert (await http.post("/pools", json=raw)).status_code == 401
            assert (await http.post("/pools", json=raw,
                                    headers=token("a-1", "assessor"))).status_code == 403
            first = await http.post("/pools", json=raw, headers=caseworker)
            assert first.status_code == 201, first.text
            assert first.json()["pool_id"] == pool_id and first.json()["version"] == 1
            again = await http.post("/pools", json=raw, headers=caseworker)
            assert again.json() == first.json()
            bad = await http.post("/pools", json={**raw, "total_dkk": -1}, headers=caseworker)
            assert bad.status_code == 422
            assert bad.json()["error"] == "pool_invalid"
            assert "total_dkk" in [r["path"] for r in bad.json()["reasons"]]
            got = await http.get(f"/pools/{pool_id}", headers=token("anyone", "auditor"))
            assert got.status_code == 200 and got.json()["content_hash"] == first.json()[
                "content_hash"]
            assert len(await outbox_events(runtime, "PoolPublished")) == 1

            # -- intake's events: a few applications, one for a pool not published yet --------
            apps: dict[str, uuid.UUID] = {}
            sent: list[tuple[uuid.UUID, list[bytes]]] = []
            for ref, municipality, dkk, target in (
                ("kbh", "101", 1_500_000, TARGET),        # Hovedstaden 2.0 M: awarded
                ("frb", "147", 800_000, TARGET),          # Hovedstaden: does not fit any more
                ("hor", "615", 600_000, TARGET),          # Midtjylland 1.0 M: awarded
                ("her", "657", 500_000, TARGET),          # Midtjylland: does not fit any more
                ("hol", "661", 100_000, "somebody else"),  # ineligible (R10)
                ("lem", "665", 100_000, TARGET),          # funded before in the programme (R2)
            ):
                apps[ref], values = intake_events(pool_id, municipality, dkk, target)
                sent.append((apps[ref], values))
            later_id, later_values = intake_events(later_pool_id, "101", 100_000)
            sent.append((later_id, later_values))
            for key, values in sent:
                for value in values:
                    await intake.produce(INTAKE, key, value)

            async def assessed() -> bool:
                return set(map(str, apps.values())) <= (await eligibility_of(runtime)).keys()
            await eventually(assessed, timeout=WAIT)
            await eventually(intake.consumed(runtime), timeout=WAIT)
            eligibility = await eligibility_of(runtime)
            assert eligibility[str(apps["kbh"])][0]["eligible"] is True
            assert eligibility[str(apps["hol"])][0]["reasons"] == ["target_group_not_eligible"]
            # The application for the unpublished pool is kept, not dead-lettered, not assessed.
            assert str(later_id) not in eligibility
            assert await runtime.pool.fetchval(
                "SELECT pool_id FROM application_files WHERE application_id = $1",
                later_id) == later_pool_id
            event = (await outbox_events(runtime, "EligibilityAssessed"))[0]
            assert event["aggregate_id"] == event["payload"]["application_id"]
            assert event["causation_id"] is not None and event["actor"]["role"] == "system"

            # Publishing that pool now assesses the kept application.
            later = await http.post("/pools", json=pool_raw(pool_id=later_pool_id,
                                                           programme=f"{programme}-b"),
                                    headers=caseworker)
            assert later.status_code == 201
            assert (await eligibility_of(runtime))[str(later_id)][0]["eligible"] is True

            # -- a prior award in the programme (R2): re-assessed at once; idempotent ---------
            prior = {"municipality_code": "665", "pool_id": f"it-{run}-2019"}
            imported = await http.post(f"/programmes/{programme}/prior-awards", json=prior,
                                       headers=caseworker)
            assert imported.status_code == 201 and imported.json()["recorded"] is True
            again = await http.post(f"/programmes/{programme}/prior-awards", json=prior,
                                    headers=caseworker)
            assert again.status_code == 201 and again.json()["recorded"] is False
            assert len(await outbox_events(runtime, "PriorAwardImported")) == 1
            lem = (await eligibility_of(runtime))[str(apps["lem"])]
            assert [e["reasons"] for e in lem] == [[], ["already_funded_in_programme"]]

            # -- scores (R11): assessor = token subject; recusal; wrong role; bad scores -----
            anna = token("assessor-anna", "assessor")
            totals = {"kbh": 22, "frb": 18, "hor": 20, "her": 15}
            scored_all = await asyncio.gather(*(  # side by side: one pool, different files
                http.post(f"/applications/{apps[ref]}/scores", headers=anna,
                          json={"scores": scores_summing(total, first=5),
                                "justification": "meets the criteria",
                                "conflict_of_interest": False})
                for ref, total in totals.items()))
            for scored, total in zip(scored_all, totals.values(), strict=True):
                assert scored.status_code == 201, scored.text
                assert scored.json() == {"aggregate_score": float(total)}
            bo = token("assessor-bo", "assessor")
            recused = await http.post(f"/applications/{apps['kbh']}/scores", headers=bo,
                                      json={"conflict_of_interest": True})
            assert recused.status_code == 201 and recused.json() == {"aggregate_score": 22.0}
            refused = await http.post(f"/applications/{apps['kbh']}/scores", headers=bo,
                                      json={"scores": FULL, "justification": "x"})
            assert refused.status_code == 409 and refused.json()["error"] == "assessor_recused"
            wrong_role = await http.post(f"/applications/{apps['frb']}/scores",
                                         headers=caseworker,
                                         json={"scores": FULL, "justification": "x"})
            assert wrong_role.status_code == 403
            incomplete = await http.post(f"/applications/{apps['frb']}/scores", headers=bo,
                                         json={"scores": {"1": 5}, "justification": "x"})
            assert incomplete.status_code == 422
            assert incomplete.json()["error"] == "criteria_incomplete"
            unknown = await http.post(f"/applications/{uuid.uuid4()}/scores", headers=bo,
                                      json={"scores": FULL, "justification": "x"})
            assert unknown.status_code == 404
            scored_events = await outbox_events(runtime, "ApplicationScored")
            assert len(scored_events) == 5
            assert {e["payload"]["assessor"] for e in scored_events} == {"assessor-anna",
                                                                         "assessor-bo"}
            assert {e["actor"]["id"] for e in scored_events} == {"assessor-anna", "assessor-bo"}

            # -- the console's reads: pools, a pool's applications, the plan an approver sees --
            listed = await http.get("/pools", headers=token("anyone", "auditor"))
            assert listed.status_code == 200
            assert {p["pool_id"] for p in listed.json()["pools"]} >= {pool_id, later_pool_id}
            rows = f"/pools/{pool_id}/applications"
            assert (await http.get(rows, headers=token("x", "applicant"))).status_code == 403
            everything = await http.get(rows, headers=caseworker)
            assert everything.status_code == 200, everything.text
            assert everything.json()["total"] == len(apps)
            mine = await http.get(rows, params={"q": cvr_for("615")}, headers=anna)
            assert [r["application_id"] for r in mine.json()["applications"]] == [
                str(apps["hor"])]
            assert mine.json()["applications"][0]["assessors"] == ["assessor-anna"]
            ineligible = await http.get(rows, params={"reason": "target_group_not_eligible"},
                                        headers=caseworker)
            assert [r["application_id"] for r in ineligible.json()["applications"]] == [
                str(apps["hol"])]
            plan = f"/pools/{pool_id}/allocation-plan"
            assert (await http.get(plan, headers=token("x", "applicant"))).status_code == 403
            seen_by_anna = (await http.get(plan, headers=token("assessor-anna", "approver"))
                            ).json()
            assert seen_by_anna["may_approve"] is False
            assert set(seen_by_anna["you_assessed"]) == {str(apps[r]) for r in totals}
            seen_by_carl = (await http.get(plan, headers=token("approver-carl", "approver"))
                            ).json()
            assert (seen_by_carl["may_approve"], seen_by_carl["you_assessed"]) == (True, [])
            assert seen_by_carl["applicants"][str(apps["kbh"])] == "Kommune 101"

            # -- allocation (R12/R13): segregation of duties, then the decisions ---------------
            conflicted = await http.post(f"/pools/{pool_id}/allocations", json={},
                                         headers=token("assessor-anna", "approver", "assessor"))
            assert conflicted.status_code == 403
            assert conflicted.json()["error"] == "segregation_of_duties"
            assert str(apps["kbh"]) in [r["path"] for r in conflicted.json()["reasons"]]
            assert (await http.post(f"/pools/{pool_id}/allocations", json={},
                                    headers=caseworker)).status_code == 403
            assert await outbox_events(runtime, "GrantAwarded") == []

            # Two approvers at once: the pool lock lets one decide everything, the other nothing.
            carl = token("approver-carl", "approver")
            both = await asyncio.gather(*(
                http.post(f"/pools/{pool_id}/allocations", json={}, headers=token(who, "approver"))
                for who in ("approver-carl", "approver-dora")))
            assert [r.status_code for r in both] == [200, 200], [r.text for r in both]
            allocated, idle = sorted(both, key=lambda r: len(r.json()["decisions"]), reverse=True)
            assert idle.json() == {"decisions": []}
            decisions = {d["application_id"]: d for d in allocated.json()["decisions"]}
            approver_id = "approver-carl" if allocated is both[0] else "approver-dora"
            by_ref = {ref: decisions[str(a)] for ref, a in apps.items()}
            assert {r: d["decision"] for r, d in by_ref.items()} == {
                "kbh": "awarded", "frb": "rejected", "hor": "awarded", "her": "rejected",
                "hol": "rejected", "lem": "rejected"}
            assert by_ref["kbh"]["amount_oere"] == 1_500_000 * DKK
            assert by_ref["frb"]["reasons"] == ["sub_pool_exhausted"]
            assert by_ref["her"]["reasons"] == ["sub_pool_exhausted"]
            assert by_ref["hol"]["reasons"] == ["target_group_not_eligible"]
            assert by_ref["lem"]["reasons"] == ["already_funded_in_programme"]
            assert (by_ref["kbh"]["rank"], by_ref["frb"]["rank"]) == (1, 2)
            sub_pools = {s["region_code"]: s["amount_dkk"] * DKK for s in raw["sub_pools"]}
            for region, amount in sub_pools.items():
                assert sum(d["amount_oere"] for d in decisions.values()
                           if d["region_code"] == region) <= amount
            awards = await outbox_events(runtime, "GrantAwarded")
            assert {e["payload"]["approved_by"] for e in awards} == {approver_id}
            assert len(awards) == 2 and len(await outbox_events(runtime, "ApplicationRejected")) == 4
            nothing_left = await http.post(f"/pools/{pool_id}/allocations", headers=carl)
            assert nothing_left.status_code == 200 and nothing_left.json() == {"decisions": []}

            # -- queries ----------------------------------------------------------------------
            overview = (await http.get(f"/pools/{pool_id}/overview",
                                       headers=token("x", "auditor"))).json()
            hovedstaden = next(s for s in overview["sub_pools"] if s["region_code"] == "1084")
            assert hovedstaden["awarded_oere"] == 1_500_000 * DKK
            assert hovedstaden["remaining_oere"] == 500_000 * DKK
            view = await http.get(f"/applications/{apps['kbh']}", headers=carl)
            assert view.status_code == 200
            assert view.json()["status"] == "awarded" and view.json()["aggregate_score"] == 22.0
            assert view.json()["decision"]["amount_oere"] == 1_500_000 * DKK
            assert len(view.json()["scores"]) == 2
            assert (await http.get(f"/applications/{apps['kbh']}",
                                   headers=token("x", "auditor"))).status_code == 403

            # -- redelivery of the very same input events: no second effect ---------------------
            counts = {t: len(await outbox_events(runtime, t)) for t in (
                "EligibilityAssessed", "GrantAwarded", "ApplicationRejected")}
            for key, values in sent:
                for value in values:
                    await intake.produce(INTAKE, key, value)
            await eventually(intake.consumed(runtime), timeout=WAIT)
            assert {t: len(await outbox_events(runtime, t)) for t in counts} == counts

            # -- the relay published the decisions; the audit chain verifies -------------------
            on_kafka = await read_decisions(kafka_bootstrap, {str(apps["kbh"]), str(apps["frb"])})
            assert on_kafka[str(apps["kbh"])]["event_type"] == "GrantAwarded"
            assert on_kafka[str(apps["frb"])]["event_type"] == "ApplicationRejected"
            entries = chain_entries(await audit_rows(runtime))
            assert audit_chain.verify(entries) is None
            assert len(entries) == len(await outbox_events(runtime))
    finally:
        await producer.stop()

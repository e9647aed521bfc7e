"""Accounts as R20–R22 say (issue 16 item 6), through reporting's HTTP API on the real broker and
PostgreSQL: a final report before the period's end, spending outside the period and a reviewer's
statement for a 200,000 DKK award are refused with their codes; an overspent post is accepted as
spent, not eligible, and claimed back with the unspent money.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from contracts import topics
from contracts.assessment import PoolPublished
from contracts.examples import POOL
from contracts.payments import AwardAccepted
from servicekit.identity import DevTokenIssuer
from services.reporting.app import build
from tests.infra.services import Api, at, eventually, grantee, random_cvr, running_service
from tests.integration.reporting.test_reporting_service import (
    MATERIALS, STAFF, Inputs, application, award, budget, executed, instruction, outbox,
)

pytestmark = pytest.mark.integration


async def test_overspent_and_out_of_period_accounts(
    private_kafka: str, fresh_database: str, tmp_path: Path,
) -> None:
    issuer = DevTokenIssuer(tmp_path)
    # named in the test's namespace (private_kafka sets one on a shared broker), not at import
    pools, intake, decisions = (topics.ASSESSMENT_POOLS.name, topics.INTAKE_APPLICATIONS.name,
                                topics.ASSESSMENT_DECISIONS.name)
    grants, instructions, results = (topics.PAYMENTS_GRANTS.name,
                                      topics.PAYMENTS_INSTRUCTIONS.name,
                                      topics.FINANCE_RESULTS.name)
    pool_id = f"it-accounts-{uuid.uuid4().hex[:8]}"
    app, cvr = uuid.uuid4(), random_cvr()
    kafka = AIOKafkaProducer(bootstrap_servers=private_kafka, acks="all")
    await kafka.start()
    try:
        async with running_service(build, private_kafka, fresh_database, issuer,
                                   name="reporting", simulation=True) as (runtime, http):
            api, feed = Api(http, issuer), Inputs(kafka)
            published = PoolPublished(pool_id=pool_id, version=1, content_hash="sha256:it",
                                      definition=POOL.model_copy(update={"pool_id": pool_id}))
            await feed.publish(pools, uuid.uuid5(uuid.NAMESPACE_URL, pool_id), published,
                               "2022-08-01T08:00:00")
            for payload in application(app, pool_id, cvr, "751", 25_000_000):
                await feed.publish(intake, app, payload, "2022-09-20T10:00:00")
            # 200,000 DKK, project period 2023; budget: staff 12,000,000 + materials 6,000,000
            await feed.publish(decisions, app, award(app, pool_id, cvr, "751", 20_000_000,
                                                     25_000_000), "2022-10-01T09:00:00")
            await feed.publish(grants, app, AwardAccepted(
                application_id=app, accepted_by="grantee", accepted_at=at("2022-11-01T10:00:00")),
                "2022-11-01T10:00:00")
            await feed.publish(grants, app, budget(app, 1_000_000, 500_000), "2022-11-05T10:00:00")
            paid = instruction(app, cvr, 18_000_000)
            await feed.publish(instructions, app, paid, "2022-12-15T08:00:00")
            await feed.publish(results, app, executed(paid, "2023-01-02T08:00:00"),
                               "2023-01-02T08:00:00", role="finance")
            await eventually(feed.consumed(runtime))
            reports = f"/grants/{app}/reports"
            me = grantee(cvr)
            accounts = {STAFF: 13_000_000, MATERIALS: 4_000_000}  # staff 1,000,000 over

            async def reasons(body: dict[str, object], when: str) -> list[tuple[str, str]]:
                answer = await api.post(reports, body, **me, when=when)
                assert answer.status_code == 201, answer.text
                return [(r["code"], r["path"]) for r in answer.json()["reasons"]]

            # the last instant of 2023 in Copenhagen: the period has not ended
            early = {"kind": "final", "accounts": accounts, "audit_statement": "AS-1"}
            assert await reasons(early, "2023-12-31T22:59:59") == [
                ("final_report_before_period_end", "kind")]
            status = await api.post(reports, {"kind": "status", "text": "on track"}, **me,
                                    when="2023-12-31T22:59:59")
            assert status.json()["status"] == "accepted"  # status reports any time
            months = {"2023-06": {STAFF: 13_000_000, MATERIALS: 3_000_000},
                      "2024-01": {MATERIALS: 1_000_000}}
            outside = {**early, "spent_months": months}
            assert await reasons(outside, "2024-02-01T09:00:00") == [
                ("spent_outside_period", "spent_months.2024-01")]
            reviewer = {**early, "audit_statement": {"type": "reviewer_statement",
                                                     "reference": "RS-1"}}
            assert await reasons(reviewer, "2024-02-01T09:00:00") == [
                ("audit_statement_wrong_type", "audit_statement.type")]
            bad_type = await api.post(reports, {**early, "audit_statement": {
                "type": "friend_statement", "reference": "X"}}, **me, when="2024-02-01T09:00:00")
            assert bad_type.status_code == 422

            auditor = {**early, "audit_statement": {"type": "auditor_statement",
                                                    "reference": "AS-1"}}
            assert await reasons(auditor, "2024-02-01T09:00:00") == []
            accepted = [e["payload"] for e in await outbox(runtime, "ReportAccepted", app)
                        if e["payload"]["kind"] == "final"]
            assert [(a["spent_oere"], a["ineligible_oere"], a["ineligible_posts"])
                    for a in accepted] == [(17_000_000, 1_000_000, {STAFF: 1_000_000})]
            submitted = [e["payload"] for e in await outbox(runtime, "ReportSubmitted", app)
                         if e["payload"]["audit_statement_type"] is not None]
            assert {s["audit_statement_type"] for s in submitted} == {
                "reviewer_statement", "auditor_statement"}
            claims = [e["payload"] for e in await outbox(runtime, "RepaymentClaimed", app)]
            # paid 18,000,000 − eligible (17,000,000 − 1,000,000) = 2,000,000
            assert [(c["amount_oere"], c["ineligible_oere"]) for c in claims] == [
                (2_000_000, 1_000_000)]
            view = await api.get(f"/grants/{app}", **me, when="2024-02-01T09:00:00")
            assert view.json()["repayment"]["claimed_oere"] == 2_000_000
            # the same report again: one effect
            assert await reasons(auditor, "2024-02-01T09:05:00") == []
            assert len(await outbox(runtime, "RepaymentClaimed", app)) == 1
    finally:
        await kafka.stop()

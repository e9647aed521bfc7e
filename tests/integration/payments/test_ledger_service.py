"""The payment ledger on the real broker and PostgreSQL: a finance result for 1 øre of a 19,999,998
øre instruction is a mismatch (only the øre counts, the grant is held for reconciliation), a
caseworker who did not approve the grant resolves it, and a later budget raising the quarter to
30,000,000 makes the next run instruct the difference as a top-up with its own stable id."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from contracts import topics
from contracts.finance import PaymentExecuted
from servicekit.identity import DevTokenIssuer
from services.payments.app import build
from services.payments.domain import instruction_id
from tests.infra.services import (
    Api, Feed, at, envelope_bytes, eventually, grantee, outbox_events, random_cvr,
    running_service,
)
from tests.integration.payments.test_payments_service import APPROVER, STAFF, award, finance

pytestmark = pytest.mark.integration
WAIT = 20.0


async def test_mismatch_reconciliation_and_top_up(kafka_bootstrap: str, fresh_database: str,
                                                  tmp_path: Path) -> None:
    issuer = DevTokenIssuer(tmp_path)
    cvr, app = random_cvr(), uuid.uuid4()
    kafka = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await kafka.start()
    try:
        async with running_service(build, kafka_bootstrap, fresh_database, issuer,
                                   name="payments", simulation=True) as (runtime, http):
            api, feed = Api(http, issuer), Feed(kafka)
            cw1, cw2 = {"who": "cw-1", "roles": ["caseworker"]}, {"who": "cw-2",
                                                                   "roles": ["caseworker"]}
            await feed.send(topics.ASSESSMENT_DECISIONS.name, app,
                            envelope_bytes(award(app, cvr, 100_000_000), str(app)),
                            at("2022-10-01T09:00:00"))
            await eventually(feed.consumed(runtime), timeout=WAIT)
            assert (await api.post(f"/grants/{app}/acceptance", {}, **grantee(cvr),
                                   when="2022-11-01T10:00:00")).status_code == 200
            v1 = {"2023-01": {STAFF: 19_999_998}, "2023-04": {STAFF: 80_000_002}}
            assert (await api.post(f"/grants/{app}/revised-budgets", {"months": v1},
                                   **grantee(cvr), when="2022-11-02T10:00:00")
                    ).json()["status"] == "approved"
            run = await api.post("/payment-runs", {}, **cw1, when="2023-01-01T08:00:00")
            (q1,) = [i for i in run.json()["instructions"] if i["application_id"] == str(app)]
            assert q1["amount_oere"] == 19_999_998

            # finance pays 1 øre: a mismatch, only the øre counts, the grant is held
            await feed.send(topics.FINANCE_RESULTS.name, app, finance(PaymentExecuted(
                instruction_id=uuid.UUID(q1["instruction_id"]), amount_oere=1,
                executed_at=at("2023-01-02T08:00:00"), finance_reference="FIN-9"), app),
                at("2023-01-02T08:00:00"))
            await eventually(feed.consumed(runtime), timeout=WAIT)
            recorded = [e["payload"] for e in await outbox_events(runtime, "PaymentResultRecorded")
                        if e["aggregate_id"] == str(app)]
            assert [(r["outcome"], r["executed_oere"], r["reason"], r["finance_reference"])
                    for r in recorded] == [("executed", 1, "payment_amount_mismatch", "FIN-9")]
            held = [e["payload"] for e in await outbox_events(runtime, "PaymentReconciliationHeld")
                    if e["aggregate_id"] == str(app)]
            assert [(h["instructed_oere"], h["executed_oere"]) for h in held] == [(19_999_998, 1)]
            view = (await api.get(f"/grants/{app}", **cw1, when="2023-01-03T08:00:00")).json()
            assert (view["paid_oere"], view["reconciliation_open"]) == (1, True)

            # a raised Q1 while held: nothing is instructed until a caseworker resolves
            v2 = {"2023-01": {STAFF: 30_000_000}, "2023-04": {STAFF: 70_000_000}}
            assert (await api.post(f"/grants/{app}/revised-budgets", {"months": v2},
                                   **grantee(cvr), when="2023-01-05T10:00:00")
                    ).json()["status"] == "approved"  # re-timing: no post moved
            held_run = await api.post("/payment-runs", {}, **cw1, when="2023-01-06T08:00:00")
            assert [i for i in held_run.json()["instructions"]
                    if i["application_id"] == str(app)] == []
            path = f"/grants/{app}/reconciliations/{q1['instruction_id']}/resolution"
            by_approver = await api.post(path, {}, who=APPROVER, roles=["caseworker"],
                                         when="2023-01-07T08:00:00")
            assert by_approver.status_code == 403
            assert by_approver.json()["error"] == "segregation_of_duties"
            resolved = await api.post(path, {"note": "finance confirmed 1 øre"}, **cw2,
                                      when="2023-01-07T09:00:00")
            assert resolved.status_code == 200, resolved.text
            assert resolved.json()["reconciliation_open"] is False

            # the next run pays Q1's difference as its own instruction (what was paid counts)
            top_up_run = await api.post("/payment-runs", {}, **cw1, when="2023-01-08T08:00:00")
            (top_up,) = [i for i in top_up_run.json()["instructions"]
                         if i["application_id"] == str(app)]
            assert (top_up["period_start"], top_up["amount_oere"]) == ("2023-01", 29_999_999)
            assert top_up["instruction_id"] == str(instruction_id(app, "2023-01", 1))
            assert top_up["budget_version"] == 2
            again = await api.post("/payment-runs", {}, **cw1, when="2023-01-08T09:00:00")
            assert [i for i in again.json()["instructions"]
                    if i["application_id"] == str(app)] == []
    finally:
        await kafka.stop()

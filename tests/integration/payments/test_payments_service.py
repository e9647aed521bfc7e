"""The payments service on the real broker and PostgreSQL, run in-process in simulation mode.

Awards are produced onto ``grants.assessment.decisions.v1`` as assessment would, finance results
onto ``grants.finance.results.v1`` as a finance system would, overdue notices onto
``grants.reporting.reports.v1`` as reporting would; commands go through the HTTP API with signed
tokens and simulated time; effects are read from the outbox and audit tables and back from Kafka.
Topics are shared by the whole test session, so every assertion filters by this test's own ids
(and the CVRs are random, so a hold from another test can never touch these grants).
"""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from contracts import topics
from contracts.assessment import ApplicationRejected, GrantAwarded, ReportingDeadline
from contracts.base import Applicant, BudgetLine, ProjectPeriod
from contracts.envelope import SIMULATED_TIME_HEADER
from contracts.finance import PaymentExecuted, PaymentFailed
from contracts.reporting import ReportOverdue
from servicekit import audit_chain
from servicekit.identity import DevTokenIssuer
from servicekit.service import ServiceRuntime
from services.payments.app import build
from services.payments.domain import instruction_id, overdue_hold_id, reissue_id
from tests.infra.services import (
    Api, Feed, at, audit_rows, chain_entries, envelope_bytes, event_of, eventually, grantee,
    headers_of, outbox_events, random_cvr, records_keyed, running_service,
)

pytestmark = pytest.mark.integration
DECISIONS = topics.ASSESSMENT_DECISIONS.name
RESULTS = topics.FINANCE_RESULTS.name
REPORTS = topics.REPORTING_REPORTS.name
STAFF, MATERIALS = "project staff", "materials and meetings"
APPROVER = "approver-x"
WAIT = 20.0  # seconds for the service to consume what was produced


# -- builders --------------------------------------------------------------------------------

def award(application_id: uuid.UUID, cvr: str, amount: int) -> GrantAwarded:
    staff = amount * 4 // 5
    return GrantAwarded(
        application_id=application_id, pool_id="it-payments", pool_version=1,
        programme="it-payments", region_code="1082", sub_pool_amount_oere=1_000_000_000,
        municipality_code="751",
        applicant=Applicant(cvr=cvr, municipality_code="751", name="Testkommune"),
        amount_oere=amount, applied_oere=amount, score=9.0, rank=1,
        project_period=ProjectPeriod(start=date(2023, 1, 1), end=date(2026, 12, 31)),
        acceptance_deadline=at("2022-12-01T22:59:59"), payment_frequency="quarterly",
        reporting_deadlines=[ReportingDeadline(kind="final", due=date(2027, 3, 31))],
        budget_lines=[
            BudgetLine(post=STAFF, category="salary", rate_oere=50_000, quantity=staff // 50_000,
                       amount_oere=staff),
            BudgetLine(post=MATERIALS, category="other", amount_oere=amount - staff)],
        approved_by=APPROVER, decided_at=at("2022-10-01T09:00:00"))


def months_2023_2026(staff: int, materials: int) -> dict[str, dict[str, int]]:
    return {f"{y}-{m:02d}": {STAFF: staff, MATERIALS: materials}
            for y in range(2023, 2027) for m in range(1, 13)}


def finance(payload: PaymentExecuted | PaymentFailed, application_id: uuid.UUID,
            role: str = "finance") -> bytes:
    return envelope_bytes(payload, str(application_id), role=role, actor_id="finance-system")


# -- plumbing -------------------------------------------------------------------------------------

async def outbox(runtime: ServiceRuntime, event_type: str, **match: str) -> list[dict[str, Any]]:
    """Outbox events of a type whose payload has the given (string) values."""
    return [e for e in await outbox_events(runtime, event_type)
            if all(str(e["payload"].get(k)) == v for k, v in match.items())]


async def read_back(kafka: str, topic: str, keys: set[str], want: int
                    ) -> list[tuple[dict[str, str], dict[str, Any]]]:
    """(headers, event) of records on ``topic`` whose key is in ``keys``, from offset 0, until
    ``want`` of them were read."""
    return [(headers_of(r), event_of(r)) for r in await records_keyed(kafka, topic, keys, want)]


# -- the test -------------------------------------------------------------------------------------

async def test_award_to_payment_with_results_holds_and_redelivery(
    kafka_bootstrap: str, fresh_database: str, tmp_path: Path
) -> None:
    issuer = DevTokenIssuer(tmp_path)
    cvr_a, cvr_b, cvr_d = random_cvr(), random_cvr(), random_cvr()
    app_a, app_b, app_d, rejected_id = (uuid.uuid4() for _ in range(4))
    award_a, award_b = award(app_a, cvr_a, 150_000_000), award(app_b, cvr_b, 75_000_000)
    award_d = award(app_d, cvr_d, 10_000_000)
    ours = {str(app_a), str(app_b), str(app_d)}

    kafka = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await kafka.start()
    try:
        async with running_service(build, kafka_bootstrap, fresh_database, issuer,
                                   name="payments", simulation=True) as (runtime, http):
            api = Api(http, issuer)
            feed = Feed(kafka)  # remembers everything sent with ``send``, to send it twice

            async def send(topic: str, key: uuid.UUID, value: bytes, when: str) -> None:
                await feed.send(topic, key, value, at(when))

            caseworker = {"who": "cw-1", "roles": ["caseworker"]}

            # -- awards open accounts; a rejection is ignored -----------------------------------
            rejection = ApplicationRejected(
                application_id=rejected_id, pool_id="it-payments", pool_version=1,
                programme="it-payments", region_code="1082", municipality_code="751",
                applied_oere=1, reasons=["sub_pool_exhausted"], approved_by=APPROVER,
                decided_at=at("2022-10-01T09:00:00"))
            for key, payload in ((app_a, award_a), (app_b, award_b), (app_d, award_d),
                                 (rejected_id, rejection)):
                await send(DECISIONS, key, envelope_bytes(payload, str(key)),
                           "2022-10-01T09:00:00")
            await eventually(feed.consumed(runtime), timeout=WAIT)
            opened = [e for e in await outbox(runtime, "GrantAccountOpened")
                      if e["aggregate_id"] in ours]
            assert len(opened) == 3
            first = next(e for e in opened if e["aggregate_id"] == str(app_a))
            assert first["payload"] == {"application_id": str(app_a), "cvr": cvr_a,
                                        "amount_oere": 150_000_000,
                                        "acceptance_deadline": "2022-12-01T22:59:59Z"}
            assert first["actor"] == {"id": "svc-payments", "role": "system"}
            assert first["causation_id"] is not None
            assert first["occurred_at"].startswith("2022-10-01T09:00:00")  # simulated time
            assert await runtime.pool.fetchval(
                "SELECT count(*) FROM grant_accounts WHERE application_id = $1", rejected_id) == 0

            # -- acceptance (R14): token CVR must be the grant's; deadline in simulated time ---
            path_a = f"/grants/{app_a}/acceptance"
            assert (await http.post(path_a, json={})).status_code == 401
            wrong_role = await api.post(path_a, {}, **caseworker, when="2022-11-01T10:00:00")
            assert wrong_role.status_code == 403
            wrong_cvr = await api.post(path_a, {}, **grantee(cvr_b), when="2022-11-01T10:00:00")
            assert wrong_cvr.status_code == 403 and wrong_cvr.json()["error"] == "cvr_mismatch"
            unknown = await api.post(f"/grants/{uuid.uuid4()}/acceptance", {}, **grantee(cvr_a),
                                     when="2022-11-01T10:00:00")
            assert unknown.status_code == 404 and unknown.json()["error"] == "grant_not_found"
            accepted = await api.post(path_a, {}, **grantee(cvr_a), when="2022-11-01T10:00:00")
            assert accepted.status_code == 200, accepted.text
            assert accepted.json() == {"accepted_at": "2022-11-01T10:00:00Z"}
            again = await api.post(path_a, {}, **grantee(cvr_a), when="2022-11-02T10:00:00")
            assert again.json() == accepted.json()
            assert (await api.post(f"/grants/{app_b}/acceptance", {}, **grantee(cvr_b),
                                   when="2022-12-01T22:59:59")).status_code == 200  # inclusive
            late = await api.post(f"/grants/{app_d}/acceptance", {}, **grantee(cvr_d),
                                  when="2022-12-02T08:00:00")
            assert late.status_code == 409 and late.json()["error"] == "acceptance_deadline_passed"
            assert len(await outbox(runtime, "AwardAccepted", application_id=str(app_a))) == 1

            # -- sweep: the unaccepted award lapses at the service's (simulated) clock ---------
            swept = await api.post("/ops/sweep", {}, **caseworker, when="2022-12-02T08:00:00")
            assert swept.status_code == 200, swept.text
            mine = [x for x in swept.json()["lapsed"] if x["application_id"] in ours]
            assert mine == [{"application_id": str(app_d), "reason": "acceptance_deadline_passed",
                             "lapsed_at": "2022-12-02T08:00:00Z"}]
            swept = await api.post("/ops/sweep", {}, **caseworker, when="2022-12-02T09:00:00")
            assert [x for x in swept.json()["lapsed"] if x["application_id"] in ours] == []

            # -- revised budgets (R15/R16): decided outcomes are 201, with their reasons -------
            budgets_a = f"/grants/{app_a}/revised-budgets"
            exact = months_2023_2026(2_500_000, 625_000)  # 48 × 3,125,000 = 150,000,000
            over = json.loads(json.dumps(exact))
            over["2026-12"][MATERIALS] += 1
            missing = await api.post(budgets_a, {"month": exact}, **grantee(cvr_a),
                                     when="2022-11-05T10:00:00")
            assert missing.status_code == 422 and missing.json()["error"] == "invalid_request"
            assert {r["path"] for r in missing.json()["reasons"]} == {"months", "month"}
            negative = await api.post(budgets_a, {"months": {"2023-01": {STAFF: -5}}},
                                      **grantee(cvr_a), when="2022-11-05T10:00:00")
            assert negative.status_code == 201, negative.text
            assert negative.json()["status"] == "rejected"
            assert negative.json()["budget_version"] == 1
            assert {"code": "amount_negative", "path": f"months.2023-01.{STAFF}"} in [
                {"code": r["code"], "path": r["path"]} for r in negative.json()["reasons"]]
            one_over = await api.post(budgets_a, {"months": over}, **grantee(cvr_a),
                                      when="2022-11-05T10:00:00")
            assert one_over.status_code == 201
            assert one_over.json()["status"] == "rejected"
            assert one_over.json()["budget_version"] == 2
            assert [r["code"] for r in one_over.json()["reasons"]] == ["exceeds_award"]
            equal = await api.post(budgets_a, {"months": exact}, **grantee(cvr_a),
                                   when="2022-11-05T10:00:00")
            assert equal.status_code == 201
            assert equal.json() == {"budget_version": 3, "status": "approved", "reasons": []}
            resent = await api.post(budgets_a, {"months": exact}, **grantee(cvr_a),
                                    when="2022-11-05T10:01:00")
            assert resent.json() == equal.json()  # a retry: no new version
            other = await api.post(budgets_a, {"months": exact}, **grantee(cvr_b),
                                   when="2022-11-05T10:00:00")
            assert other.status_code == 403
            # A big move between posts waits for a caseworker; who rejects it here (R16).
            moved = json.loads(json.dumps(exact))
            for month in ("2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10",
                          "2026-11", "2026-12"):
                moved[month] = {STAFF: 0, MATERIALS: 3_125_000}
            pending = await api.post(budgets_a, {"months": moved}, **grantee(cvr_a),
                                     when="2022-11-06T10:00:00")
            assert pending.status_code == 201
            assert pending.json()["status"] == "pending_approval"
            assert {r["code"] for r in pending.json()["reasons"]} == {"move_over_10_percent",
                                                                      "move_over_100000_dkk"}
            decision = f"/grants/{app_a}/revised-budgets/4/decision"
            assert (await api.post(decision, {"approve": False}, **grantee(cvr_a),
                                   when="2022-11-07T10:00:00")).status_code == 403
            decided = await api.post(decision, {"approve": False, "message": "too much"},
                                     **caseworker, when="2022-11-07T10:00:00")
            assert decided.status_code == 200 and decided.json() == {"status": "rejected"}
            not_pending = await api.post(f"/grants/{app_a}/revised-budgets/3/decision",
                                         {"approve": True}, **caseworker,
                                         when="2022-11-07T10:00:00")
            assert not_pending.status_code == 409
            assert not_pending.json()["error"] == "budget_not_pending"
            assert (await api.post(f"/grants/{app_b}/revised-budgets",
                                   {"months": months_2023_2026(1_250_000, 312_500)},
                                   **grantee(cvr_b), when="2022-11-05T10:00:00")
                    ).json()["status"] == "approved"

            # -- payment run (R17): stable ids; a second run issues nothing --------------------
            ahead = await api.post("/payment-runs", {"through": "2023-01-01"}, **caseworker,
                                   when="2022-12-15T08:00:00")
            assert ahead.status_code == 422, ahead.text  # never a period that has not begun
            assert ahead.json()["error"] == "payment_run_in_future"
            run = await api.post("/payment-runs", {"through": "2023-01-01"}, **caseworker,
                                 when="2023-01-01T08:00:00")
            assert run.status_code == 200, run.text
            issued = {i["application_id"]: i for i in run.json()["instructions"]
                      if i["application_id"] in ours}
            q1_a, q1_b = instruction_id(app_a, "2023-01"), instruction_id(app_b, "2023-01")
            assert issued[str(app_a)] == {
                "instruction_id": str(q1_a), "application_id": str(app_a), "cvr": cvr_a,
                "currency": "DKK", "amount_oere": 9_375_000, "due_date": "2023-01-01",
                "period_start": "2023-01", "period_end": "2023-03", "budget_version": 3,
                "replaces_instruction_id": None, "offsets": []}
            assert issued[str(app_b)]["instruction_id"] == str(q1_b)
            assert issued[str(app_b)]["amount_oere"] == 4_687_500
            assert len(issued) == 2  # the lapsed grant gets nothing
            rerun = await api.post("/payment-runs", {}, **caseworker,
                                   when="2023-01-01T09:00:00")
            assert [i for i in rerun.json()["instructions"] if i["application_id"] in ours] == []
            by_approver = await api.post("/payment-runs", {}, who=APPROVER, roles=["caseworker"],
                                         when="2023-01-01T09:30:00")
            assert by_approver.status_code == 200, by_approver.text
            assert {r["application_id"] for r in by_approver.json()["refused"]} >= {
                str(app_a), str(app_b)}  # R19: the approver runs nothing of its grants
            assert all(r["error"] == "segregation_of_duties"
                       for r in by_approver.json()["refused"])
            assert (await api.post("/payment-runs", {"through": "2023-01-01"}, **grantee(cvr_a),
                                   when="2023-01-01T09:00:00")).status_code == 403
            assert (await api.post("/payment-runs", {"through": "soon"}, **caseworker,
                                   when="2023-01-01T09:00:00")).status_code == 422

            # -- finance results over the real topic: executed, failed, unknown, duplicate -----
            stranger = uuid.uuid4()
            await send(RESULTS, app_a, finance(PaymentExecuted(
                instruction_id=q1_a, amount_oere=9_375_000, executed_at=at("2023-01-02T08:00:00"),
                finance_reference="FIN-1"), app_a), "2023-01-02T08:00:00")
            await send(RESULTS, app_b, finance(PaymentFailed(
                instruction_id=q1_b, failed_at=at("2023-01-02T08:00:00"),
                reason="account closed"), app_b), "2023-01-02T08:00:00")
            await send(RESULTS, stranger, finance(PaymentExecuted(
                instruction_id=stranger, amount_oere=1, executed_at=at("2023-01-02T08:00:00")),
                stranger), "2023-01-02T08:00:00")
            await send(RESULTS, app_a, finance(PaymentExecuted(   # another event, same id
                instruction_id=q1_a, amount_oere=9_375_000, executed_at=at("2023-01-02T09:00:00"),
                finance_reference="FIN-1"), app_a), "2023-01-02T09:00:00")
            # A result not published as finance is a contract break: dead-lettered, no effect.
            forged = uuid.uuid4()
            await feed.produce(RESULTS, forged, finance(PaymentExecuted(
                instruction_id=forged, amount_oere=1, executed_at=at("2023-01-02T08:00:00")),
                forged, role="system"), at("2023-01-02T08:00:00"))
            await eventually(feed.consumed(runtime), timeout=WAIT)
            outcomes = {(e["payload"]["instruction_id"], e["payload"]["outcome"], e["aggregate_id"])
                        for e in await outbox(runtime, "PaymentResultRecorded")}
            assert outcomes >= {(str(q1_a), "executed", str(app_a)),
                                (str(q1_b), "failed", str(app_b)),
                                (str(stranger), "unknown_instruction", str(stranger)),
                                (str(q1_a), "duplicate", str(app_a))}
            assert not [o for o in outcomes if o[0] == str(forged)]
            dead = await read_back(kafka_bootstrap, topics.FINANCE_RESULTS.dead_letter,
                                   {str(forged)}, want=1)
            assert dead and dead[0][0]["dlt-original-topic"] == RESULTS
            view = await api.get(f"/grants/{app_a}", **grantee(cvr_a), when="2023-01-03T08:00:00")
            assert view.status_code == 200, view.text
            assert (view.json()["paid_oere"], view.json()["instructed_oere"]) == (9_375_000,
                                                                                  9_375_000)
            assert view.json()["status"] == "accepted" and view.json()["held"] is False
            assert view.json()["budget"]["governing_version"] == 3
            assert (await api.get(f"/grants/{app_a}", **grantee(cvr_b),
                                  when="2023-01-03T08:00:00")).status_code == 403
            assert (await api.get(f"/grants/{app_a}", **caseworker,
                                  when="2023-01-03T08:00:00")).status_code == 200

            # -- re-issue of the failed instruction: a new stable id naming the old one -------
            # R19: two people, neither the grant's approver
            asks, approves = (f"/instructions/{q1_b}/reissue-requests",
                              f"/instructions/{q1_b}/reissue-approvals")
            by_approver = await api.post(asks, {}, who=APPROVER, roles=["caseworker"],
                                         when="2023-01-10T07:00:00")
            assert by_approver.status_code == 403
            assert by_approver.json()["error"] == "segregation_of_duties"
            unasked = await api.post(approves, {}, who="cw-9", roles=["caseworker"],
                                     when="2023-01-10T07:00:00")
            assert unasked.status_code == 409 and unasked.json()["error"] == "reissue_not_requested"
            asked = await api.post(asks, {}, **caseworker, when="2023-01-10T07:30:00")
            assert asked.status_code == 200, asked.text
            assert asked.json() == {"instruction_id": str(q1_b), "status": "reissue_requested",
                                    "requested_by": "cw-1"}
            alone = await api.post(approves, {}, **caseworker, when="2023-01-10T07:40:00")
            assert alone.status_code == 403 and alone.json()["error"] == "two_person_rule"
            reissued = await api.post(approves, {}, who="cw-9", roles=["caseworker"],
                                      when="2023-01-10T08:00:00")
            assert reissued.status_code == 200, reissued.text
            assert reissued.json()["instruction_id"] == str(reissue_id(q1_b))
            assert reissued.json()["replaces_instruction_id"] == str(q1_b)
            assert reissued.json()["amount_oere"] == 4_687_500
            twice = await api.post(approves, {}, who="cw-9", roles=["caseworker"],
                                   when="2023-01-10T09:00:00")
            assert twice.json() == reissued.json()
            executed = await api.post(f"/instructions/{q1_a}/reissue-requests", {}, **caseworker,
                                      when="2023-01-10T09:00:00")
            assert executed.status_code == 409
            assert executed.json()["error"] == "instruction_not_failed"
            assert (await api.post(f"/instructions/{uuid.uuid4()}/reissue-requests", {},
                                   **caseworker, when="2023-01-10T09:00:00")).status_code == 404

            # -- an overdue report holds the grantee (R18) ------------------------------------
            overdue = ReportOverdue(application_id=app_a, cvr=cvr_a, kind="status",
                                    due=date(2023, 1, 31))
            await send(REPORTS, app_a, envelope_bytes(overdue, str(app_a)), "2023-02-01T00:00:00")
            await eventually(feed.consumed(runtime), timeout=WAIT)
            hold_id = overdue_hold_id(app_a, "status", date(2023, 1, 31))
            held = await outbox(runtime, "PaymentsHeld", cvr=cvr_a)
            assert [(e["payload"]["hold_id"], e["aggregate_id"]) for e in held] == [
                (str(hold_id), str(app_a))]
            assert held[0]["payload"]["held_at"] == "2023-02-01T00:00:00Z"
            run = await api.post("/payment-runs", {"through": "2023-04-01"}, **caseworker,
                                 when="2023-04-01T06:00:00")
            mine = [i for i in run.json()["instructions"] if i["application_id"] in ours]
            assert [(i["application_id"], i["period_start"]) for i in mine] == [
                (str(app_b), "2023-04")]  # nothing for the held grantee
            view = await api.get(f"/grants/{app_a}", **caseworker, when="2023-03-20T08:00:00")
            assert view.json()["held"] is True
            assert [h["hold_id"] for h in view.json()["holds"]] == [str(hold_id)]

            # -- release by two different people, neither a grant approver (R19) --------------
            requests, approvals = (f"/holds/{hold_id}/release-requests",
                                   f"/holds/{hold_id}/release-approvals")
            cw1, cw2 = {"who": "cw-1", "roles": ["caseworker"]}, {"who": "cw-2",
                                                                   "roles": ["caseworker"]}
            approver = {"who": APPROVER, "roles": ["caseworker", "approver"]}
            too_early = await api.post(approvals, {}, **cw2, when="2023-03-21T08:00:00")
            assert too_early.status_code == 409
            assert too_early.json()["error"] == "release_not_requested"
            conflicted = await api.post(requests, {}, **approver, when="2023-03-21T08:00:00")
            assert conflicted.status_code == 403
            assert conflicted.json()["error"] == "segregation_of_duties"
            asked = await api.post(requests, {}, **cw1, when="2023-03-21T08:00:00")
            assert asked.status_code == 200, asked.text
            assert asked.json()["status"] == "release_requested"
            assert asked.json()["requested_by"] == "cw-1"
            assert asked.json()["requested_at"] == "2023-03-21T08:00:00Z"
            assert (await api.post(requests, {}, **cw2, when="2023-03-21T08:02:00")
                    ).json()["error"] == "release_already_requested"
            assert (await api.post(requests, {}, **cw1, when="2023-03-21T08:01:00")
                    ).json() == asked.json()
            # the request is an event, once, keyed like the hold's other events
            requested = await outbox(runtime, "HoldReleaseRequested", cvr=cvr_a)
            assert [(e["payload"]["hold_id"], e["payload"]["requested_by"], e["aggregate_id"],
                     e["actor"]["id"]) for e in requested] == [
                (str(hold_id), "cw-1", str(app_a), "cw-1")]
            alone = await api.post(approvals, {}, **cw1, when="2023-03-21T09:00:00")
            assert alone.status_code == 403 and alone.json()["error"] == "two_person_rule"
            by_approver = await api.post(approvals, {}, **approver, when="2023-03-21T09:00:00")
            assert by_approver.status_code == 403
            assert by_approver.json()["error"] == "segregation_of_duties"
            assert await outbox(runtime, "PaymentsReleased", cvr=cvr_a) == []
            view = await api.get(f"/grants/{app_a}", **caseworker, when="2023-03-21T09:30:00")
            assert set(view.json()["holds"][0]) == {  # the request is not part of the view
                "hold_id", "reason", "application_id", "held_at", "released_at", "requested_by",
                "approved_by"}
            released = await api.post(approvals, {}, **cw2, when="2023-03-21T10:00:00")
            assert released.status_code == 200, released.text
            assert released.json() == {"hold_id": str(hold_id), "cvr": cvr_a,
                                       "requested_by": "cw-1", "approved_by": "cw-2",
                                       "released_at": "2023-03-21T10:00:00Z",
                                       "resolved_by_report": None}
            assert (await api.post(approvals, {}, **cw2, when="2023-03-21T11:00:00")
                    ).json() == released.json()
            assert (await api.post(f"/holds/{uuid.uuid4()}/release-requests", {}, **cw1,
                                   when="2023-03-21T11:00:00")).status_code == 404
            run = await api.post("/payment-runs", {"through": "2023-04-01"}, **caseworker,
                                 when="2023-04-01T07:00:00")
            mine = [i for i in run.json()["instructions"] if i["application_id"] in ours]
            assert [(i["instruction_id"], i["amount_oere"]) for i in mine] == [
                (str(instruction_id(app_a, "2023-04")), 9_375_000)]

            # -- bank master data over HTTP: two people, neither the approver (R19) -----------
            change = {"cvr": cvr_a, "account_reference": "1234-0001234567"}
            refused = await api.post("/bank-details-changes", change, who=APPROVER,
                                     roles=["caseworker"], when="2023-04-02T08:00:00")
            assert refused.status_code == 403
            assert refused.json()["error"] == "segregation_of_duties"
            asked = await api.post("/bank-details-changes", change, **cw1,
                                   when="2023-04-02T08:00:00")
            assert asked.status_code == 201, asked.text
            assert asked.json()["status"] == "requested"
            assert asked.json()["current_account_reference"] is None
            change_id = asked.json()["change_id"]
            approval = f"/bank-details-changes/{change_id}/approval"
            alone = await api.post(approval, {}, **cw1, when="2023-04-02T09:00:00")
            assert alone.status_code == 403 and alone.json()["error"] == "two_person_rule"
            changed = await api.post(approval, {}, **cw2, when="2023-04-02T09:00:00")
            assert changed.status_code == 200, changed.text
            assert changed.json()["current_account_reference"] == "1234-0001234567"
            assert [(c["requested_by"], c["approved_by"]) for c in changed.json()["history"]] == [
                ("cw-1", "cw-2")]
            assert (await api.get(f"/bank-details-changes/{change_id}", **cw2,
                                  when="2023-04-02T09:00:00")).json() == changed.json()
            bank_events = [e["event_type"] for e in await outbox_events(runtime, "BankDetailsChanged")
                           if e["aggregate_id"] == f"bank:{change_id}"]
            assert bank_events == ["BankDetailsChanged"]
            assert (await api.post("/bank-details-changes", {"cvr": "1", "account_reference": ""},
                                   **cw1, when="2023-04-02T09:00:00")).status_code == 422

            # -- lapse as not started (R18): refused while the window is open / it started ----
            early = await api.post(f"/grants/{app_a}/lapse", {}, **caseworker,
                                   when="2023-03-22T08:00:00")
            assert early.status_code == 409 and early.json()["error"] == "project_start_window_open"
            started = await api.post(f"/grants/{app_a}/lapse", {}, **caseworker,
                                     when="2023-07-02T08:00:00")
            assert started.status_code == 409 and started.json()["error"] == "project_started"

            # -- redelivery of every input, and the same facts under new event ids ------------
            counted = ("GrantAccountOpened", "PaymentInstructed", "PaymentsHeld",
                       "PaymentResultRecorded", "PaymentsReleased", "AwardLapsed")

            async def counts() -> dict[str, int]:
                rows = await runtime.pool.fetch(
                    "SELECT value->>'event_type' AS t, count(*) AS n FROM ("
                    " SELECT convert_from(value, 'UTF8')::jsonb AS value FROM outbox) o"
                    " WHERE value->>'aggregate_id' = ANY($1::text[]) GROUP BY 1",
                    [*ours, str(stranger)])
                return {t: next((r["n"] for r in rows if r["t"] == t), 0) for t in counted}

            before = await counts()
            assert before == {"GrantAccountOpened": 3, "PaymentInstructed": 5, "PaymentsHeld": 1,
                              "PaymentResultRecorded": 4, "PaymentsReleased": 1, "AwardLapsed": 1}
            await feed.resend()
            await feed.produce(DECISIONS, app_a, envelope_bytes(award_a, str(app_a)),
                               at("2023-04-01T00:00:00"))
            await feed.produce(REPORTS, app_a, envelope_bytes(overdue, str(app_a)),
                               at("2023-04-01T00:00:00"))
            await eventually(feed.consumed(runtime), timeout=WAIT)
            assert await counts() == before
            run = await api.post("/payment-runs", {"through": "2023-04-01"}, **caseworker,
                                 when="2023-04-01T08:00:00")
            assert [i for i in run.json()["instructions"] if i["application_id"] in ours] == []

            # -- the relay published to Kafka; the audit chain verifies -----------------------
            grants_log = await read_back(kafka_bootstrap, topics.PAYMENTS_GRANTS.name,
                                         {str(app_a)}, want=10)
            assert [e["event_type"] for _, e in grants_log] == [
                "GrantAccountOpened", "AwardAccepted", "RevisedBudgetRejected",
                "RevisedBudgetSubmitted", "RevisedBudgetRejected",
                "RevisedBudgetSubmitted", "RevisedBudgetApproved",
                "RevisedBudgetSubmitted", "RevisedBudgetPendingApproval",
                "RevisedBudgetRejected"]
            sequences = [e["sequence"] for _, e in grants_log]
            assert sequences == sorted(sequences)  # per-aggregate order kept on the topic
            instructions_log = await read_back(kafka_bootstrap, topics.PAYMENTS_INSTRUCTIONS.name,
                                               {str(app_b)}, want=4)
            instructed = [e["payload"]["instruction_id"] for _, e in instructions_log
                          if e["event_type"] == "PaymentInstructed"]
            assert instructed == [str(q1_b), str(reissue_id(q1_b)),
                                  str(instruction_id(app_b, "2023-04"))]
            assert instructions_log[0][0][SIMULATED_TIME_HEADER] == "2023-01-01T08:00:00+00:00"
            entries = chain_entries(await audit_rows(runtime))
            assert audit_chain.verify(entries) is None
            assert len(entries) == await runtime.pool.fetchval("SELECT count(*) FROM outbox")
    finally:
        await kafka.stop()

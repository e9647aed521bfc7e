"""The reporting service on the real broker and PostgreSQL, run in-process in simulation mode.

Pools, applications, awards, acceptances, approved budgets, payment instructions and finance
results are produced onto their real topics as their owners would; reports, the overdue sweep,
the grant view, the pool overview and the 360Giving exports go through the HTTP API with signed
tokens and simulated time; effects are read from the outbox and audit tables and back from Kafka.
Topics are shared by the whole test session (and the consumer reads them from offset 0), so
every assertion filters by this test's own ids.

Then the auditors' tools: a tampered audit_log row is named by ``grants.audit.verify_chain``, and
an invariant-breaking event injected onto the log is named by the replay.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from contracts import topics
from contracts.assessment import GrantAwarded, PoolPublished, ReportingDeadline
from contracts.base import Applicant, BudgetLine, Contract, IndicativeBudget, ProjectPeriod
from contracts.examples import POOL
from contracts.finance import PaymentExecuted
from contracts.intake import ApplicationAccepted, ApplicationReceived
from contracts.payments import AwardAccepted, PaymentInstructed, RevisedBudgetApproved
from grants.audit import read_log, verify_chain
from servicekit import audit_chain
from servicekit.identity import DevTokenIssuer
from servicekit.service import ServiceRuntime
from services.reporting.app import build
from audit.replay import replay
from tests.infra.services import (
    Api, Feed, at, audit_rows, chain_entries, envelope_bytes, event_of, eventually, grantee,
    outbox_events, random_cvr, records_keyed, running_service,
)

pytestmark = pytest.mark.integration
POOLS = topics.ASSESSMENT_POOLS.name
INTAKE = topics.INTAKE_APPLICATIONS.name
DECISIONS = topics.ASSESSMENT_DECISIONS.name
GRANTS = topics.PAYMENTS_GRANTS.name
INSTRUCTIONS = topics.PAYMENTS_INSTRUCTIONS.name
RESULTS = topics.FINANCE_RESULTS.name
REPORTS = topics.REPORTING_REPORTS.name
STAFF, MATERIALS = "project staff", "materials and meetings"
REGION = "1082"


# -- builders --------------------------------------------------------------------------------

def application(app_id: uuid.UUID, pool_id: str, cvr: str, municipality: str,
                applied: int) -> list[Contract]:
    submission = uuid.uuid4()
    budget = IndicativeBudget(lines=[BudgetLine(post=STAFF, category="other",
                                                amount_oere=applied)], total_oere=applied)
    received = ApplicationReceived(
        submission_id=submission, application_id=app_id, version=1, pool_id=pool_id,
        applicant=Applicant(cvr=cvr, municipality_code=municipality, name=f"Kommune {cvr}"),
        purpose="family house", target_group="families", budget=budget,
        received_at=at("2022-09-20T10:00:00"), received_at_local="2022-09-20T12:00:00+02:00",
        deadline=at("2022-09-28T10:00:00"), timeliness="on_time")
    accepted = ApplicationAccepted(application_id=app_id, submission_id=submission, version=1,
                                   pool_id=pool_id, basis="on_time")
    return [received, accepted]


def award(app_id: uuid.UUID, pool_id: str, cvr: str, municipality: str, amount: int,
          applied: int, *, status_due: date | None = None,
          sub_pool_amount: int = 100_000_000) -> GrantAwarded:
    deadlines = [ReportingDeadline(kind="final", due=date(2024, 3, 31))]
    if status_due is not None:
        deadlines.insert(0, ReportingDeadline(kind="status", due=status_due))
    return GrantAwarded(
        application_id=app_id, pool_id=pool_id, pool_version=1, programme=pool_id,
        region_code=REGION, sub_pool_amount_oere=sub_pool_amount, municipality_code=municipality,
        applicant=Applicant(cvr=cvr, municipality_code=municipality, name=f"Kommune {cvr}"),
        amount_oere=amount, applied_oere=applied, score=9.0, rank=1,
        project_period=ProjectPeriod(start=date(2023, 1, 1), end=date(2023, 12, 31)),
        acceptance_deadline=at("2022-12-01T22:59:59"), payment_frequency="quarterly",
        reporting_deadlines=deadlines,
        budget_lines=[BudgetLine(post=STAFF, category="other", amount_oere=amount)],
        approved_by="approver-x", decided_at=at("2022-10-01T09:00:00"))


def budget(app_id: uuid.UUID, staff: int, materials: int) -> RevisedBudgetApproved:
    """Twelve equal months of 2023; ``staff``/``materials`` per month."""
    months = {f"2023-{m:02d}": {STAFF: staff, MATERIALS: materials} for m in range(1, 13)}
    total = 12 * (staff + materials)
    return RevisedBudgetApproved(application_id=app_id, budget_version=1, months=months,
                                 total_oere=total, award_oere=total, approval="automatic")


def instruction(app_id: uuid.UUID, cvr: str, amount: int) -> PaymentInstructed:
    return PaymentInstructed(
        instruction_id=uuid.uuid4(), application_id=app_id, cvr=cvr, amount_oere=amount,
        due_date=date(2023, 1, 1), period_start="2023-01", period_end="2023-12",
        budget_version=1)


def executed(i: PaymentInstructed, when: str) -> PaymentExecuted:
    return PaymentExecuted(instruction_id=i.instruction_id, amount_oere=i.amount_oere,
                           executed_at=at(when), finance_reference=f"FIN-{i.instruction_id}")


# -- plumbing -------------------------------------------------------------------------------------

class Inputs(Feed):
    """Produces the service's inputs as their owners would: each event dated at the simulated
    instant it is sent at."""

    async def publish(self, topic: str, key: uuid.UUID, payload: Contract, when: str, *,
                      role: str = "system") -> None:
        actor = "finance-system" if role == "finance" else "svc-test"
        value = envelope_bytes(payload, str(key), role=role, actor_id=actor, occurred_at=at(when))
        await self.send(topic, key, value, at(when))


async def outbox(runtime: ServiceRuntime, event_type: str, app_id: uuid.UUID
                 ) -> list[dict[str, Any]]:
    return [e for e in await outbox_events(runtime, event_type)
            if e["aggregate_id"] == str(app_id)]


CASEWORKER = {"who": "cw-1", "roles": ["caseworker"]}
AUDITOR = {"who": "auditor-1", "roles": ["auditor"]}


# -- the flow -------------------------------------------------------------------------------------

async def test_reports_repayments_overdue_overview_exports_and_audit(
    kafka_bootstrap: str, fresh_database: str, pg_url: str, tmp_path: Path
) -> None:
    issuer = DevTokenIssuer(tmp_path)
    pool_id = f"it-reporting-{uuid.uuid4().hex[:8]}"
    # C: claim; W: waiver; R: rejected reports; L: late finance result; O: overdue status report
    names = ("C", "W", "R", "L", "O")
    ids = {n: uuid.uuid4() for n in names}
    cvrs = {n: random_cvr() for n in names}
    municipality = dict(zip(names, ("751", "615", "657", "661", "665")))
    amounts = {"C": 20_000_000, "W": 10_000_000, "R": 20_000_000, "L": 20_000_000,
               "O": 20_000_000}
    applied = {n: 12_000_000 if n == "W" else 25_000_000 for n in names}
    ours = {str(i) for i in ids.values()}
    c, w, r, lt, o = (ids[n] for n in names)

    kafka = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await kafka.start()
    try:
        async with running_service(build, kafka_bootstrap, fresh_database, issuer,
                                   name="reporting", simulation=True) as (runtime, http):
            api = Api(http, issuer)
            feed = Inputs(kafka)

            # -- inputs: pool, applications, awards, acceptances, budgets, payments -----------
            published = PoolPublished(pool_id=pool_id, version=1, content_hash="sha256:it",
                                      definition=POOL.model_copy(update={"pool_id": pool_id}))
            await feed.publish(POOLS, uuid.uuid5(uuid.NAMESPACE_URL, pool_id), published,
                               "2022-08-01T08:00:00")
            for n in names:
                for payload in application(ids[n], pool_id, cvrs[n], municipality[n],
                                           applied[n]):
                    await feed.publish(INTAKE, ids[n], payload, "2022-09-20T10:00:00")
                status_due = date(2023, 6, 30) if n == "O" else None
                await feed.publish(DECISIONS, ids[n], award(
                    ids[n], pool_id, cvrs[n], municipality[n], amounts[n], applied[n],
                    status_due=status_due), "2022-10-01T09:00:00")
                if n != "O":
                    await feed.publish(GRANTS, ids[n], AwardAccepted(
                        application_id=ids[n], accepted_by=f"portal-user-{cvrs[n]}",
                        accepted_at=at("2022-11-01T10:00:00")), "2022-11-01T10:00:00")
            for n in ("C", "R", "L"):
                await feed.publish(GRANTS, ids[n], budget(ids[n], 1_000_000, 500_000),
                                   "2022-11-05T10:00:00")  # 18,000,000 øre
            await feed.publish(GRANTS, w, budget(w, 500_000, 250_000),
                               "2022-11-05T10:00:00")  # 9,000,000 øre
            pay = {n: instruction(ids[n], cvrs[n], 18_000_000) for n in ("C", "R")}
            pay["W"] = instruction(w, cvrs["W"], 9_000_000)
            late_1, late_2 = (instruction(lt, cvrs["L"], 9_000_000) for _ in range(2))
            # W's result arrives before its instruction: kept, applied once the instruction is.
            await feed.publish(RESULTS, w, executed(pay["W"], "2023-01-02T08:00:00"),
                               "2023-01-02T08:00:00", role="finance")
            await eventually(feed.consumed(runtime))
            for key, i in ((c, pay["C"]), (r, pay["R"]), (w, pay["W"]), (lt, late_1),
                           (lt, late_2)):
                await feed.publish(INSTRUCTIONS, key, i, "2022-12-15T08:00:00")
            for key, i in ((c, pay["C"]), (r, pay["R"]), (lt, late_1)):
                await feed.publish(RESULTS, key, executed(i, "2023-01-02T08:00:00"),
                                   "2023-01-02T08:00:00", role="finance")
            await eventually(feed.consumed(runtime))

            view = await api.get(f"/grants/{w}", **grantee(cvrs["W"]), when="2023-01-03T08:00:00")
            assert view.status_code == 200, view.text
            assert view.json()["paid_oere"] == 9_000_000  # routed by its instruction
            assert view.json()["audit_level"] == "reviewer"
            assert view.json()["status"] == "accepted"

            # -- the overdue sweep (R18), at the service's simulated clock -------------------
            assert (await api.post("/ops/sweep", {}, **grantee(cvrs["O"]),
                                   when="2023-07-01T08:00:00")).status_code == 403
            early = await api.post("/ops/sweep", {}, **CASEWORKER, when="2023-06-30T21:59:59")
            assert early.status_code == 200, early.text  # 23:59:59 in Copenhagen: still due
            assert [x for x in early.json()["overdue"] if x["application_id"] in ours] == []
            swept = await api.post("/ops/sweep", {}, **CASEWORKER, when="2023-07-01T08:00:00")
            assert swept.status_code == 200, swept.text
            assert [x for x in swept.json()["overdue"] if x["application_id"] in ours] == [
                {"application_id": str(o), "cvr": cvrs["O"], "kind": "status",
                 "due": "2023-06-30"}]
            again = await api.post("/ops/sweep", {}, **CASEWORKER, when="2023-07-02T08:00:00")
            assert [x for x in again.json()["overdue"] if x["application_id"] in ours] == []
            notices = await outbox(runtime, "ReportOverdue", o)
            assert len(notices) == 1
            assert notices[0]["occurred_at"].startswith("2023-07-01T08:00:00")
            assert notices[0]["actor"] == {"id": "cw-1", "role": "caseworker"}

            # -- final reports (R20–R22) ------------------------------------------------------
            reports = f"/grants/{c}/reports"
            final_c = {"kind": "final", "accounts": {STAFF: 12_000_000, MATERIALS: 5_000_000},
                       "audit_statement": "RS-C-2024"}
            assert (await http.post(reports, json=final_c)).status_code == 401
            assert (await api.post(reports, final_c, **CASEWORKER,
                                   when="2024-02-01T10:00:00")).status_code == 403
            wrong = await api.post(reports, final_c, **grantee(cvrs["W"]),
                                   when="2024-02-01T10:00:00")
            assert wrong.status_code == 403 and wrong.json()["error"] == "cvr_mismatch"
            invalid = await api.post(reports, {"kind": "yearly"}, **grantee(cvrs["C"]),
                                     when="2024-02-01T10:00:00")
            assert invalid.status_code == 422
            unknown = await api.post(f"/grants/{uuid.uuid4()}/reports", final_c,
                                     **grantee(cvrs["C"]), when="2024-02-01T10:00:00")
            assert unknown.status_code == 404 and unknown.json()["error"] == "grant_not_awarded"

            claimed = await api.post(reports, final_c, **grantee(cvrs["C"]),
                                     when="2024-02-01T10:00:00")
            assert claimed.status_code == 201, claimed.text
            report_c = claimed.json()["report_id"]
            assert claimed.json() == {"report_id": report_c, "status": "accepted", "reasons": [],
                                      "audit_level": "auditor_statement"}
            claims_c = await outbox(runtime, "RepaymentClaimed", c)
            assert [e["payload"] for e in claims_c] == [{
                "application_id": str(c), "cvr": cvrs["C"], "currency": "DKK",
                "paid_oere": 18_000_000, "spent_oere": 17_000_000, "amount_oere": 1_000_000,
                "ineligible_oere": 0}]
            assert [e["event_type"] for e in await _emitted(runtime, c)] == [
                "ReportSubmitted", "ReportAccepted", "RepaymentClaimed"]
            resent = await api.post(reports, final_c, **grantee(cvrs["C"]),
                                    when="2024-02-02T10:00:00")
            assert resent.status_code == 201 and resent.json() == claimed.json()
            other = await api.post(reports, {**final_c, "audit_statement": "RS-C-2"},
                                   **grantee(cvrs["C"]), when="2024-02-02T10:00:00")
            assert other.status_code == 409
            assert other.json()["error"] == "final_report_already_accepted"

            waived = await api.post(f"/grants/{w}/reports", {
                "kind": "final", "accounts": {STAFF: 6_000_000, MATERIALS: 2_950_001},
                "audit_statement": "REV-W"}, **grantee(cvrs["W"]), when="2024-02-01T11:00:00")
            assert waived.status_code == 201, waived.text
            assert waived.json()["status"] == "accepted"
            assert waived.json()["audit_level"] == "reviewer"
            assert [e["payload"]["amount_oere"] for e in
                    await outbox(runtime, "RepaymentWaived", w)] == [49_999]  # 499.99 DKK
            assert await outbox(runtime, "RepaymentClaimed", w) == []

            rejected = await api.post(f"/grants/{r}/reports", {
                "kind": "final", "accounts": {STAFF: 12_000_000, "travel": 100_000}},
                **grantee(cvrs["R"]), when="2024-02-01T12:00:00")
            assert rejected.status_code == 201, rejected.text
            assert rejected.json()["status"] == "rejected"
            assert [(x["code"], x["path"]) for x in rejected.json()["reasons"]] == [
                ("post_not_in_budget", "accounts.travel"),
                ("audit_statement_missing", "audit_statement")]
            assert [e["event_type"] for e in await _emitted(runtime, r)] == [
                "ReportSubmitted", "ReportRejected"]
            status_r = await api.post(f"/grants/{r}/reports", {"kind": "status",
                                                                 "text": "on track"},
                                      **grantee(cvrs["R"]), when="2024-02-01T12:05:00")
            assert status_r.status_code == 201 and status_r.json()["status"] == "accepted"

            # -- a finance result after the accepted final report: a correcting claim ---------
            first_l = await api.post(f"/grants/{lt}/reports", {
                "kind": "final", "accounts": {STAFF: 8_000_000}, "audit_statement": "RS-L"},
                **grantee(cvrs["L"]), when="2024-02-01T13:00:00")
            assert first_l.status_code == 201 and first_l.json()["status"] == "accepted"
            await feed.publish(RESULTS, lt, executed(late_2, "2024-02-10T08:00:00"),
                               "2024-02-10T08:00:00", role="finance")
            await eventually(feed.consumed(runtime))
            claims_l = await outbox(runtime, "RepaymentClaimed", lt)
            assert [(e["payload"]["paid_oere"], e["payload"]["amount_oere"]) for e in claims_l
                    ] == [(9_000_000, 1_000_000), (18_000_000, 9_000_000)]
            assert claims_l[1]["occurred_at"].startswith("2024-02-10T08:00:00")
            assert claims_l[1]["actor"] == {"id": "svc-reporting", "role": "system"}
            assert claims_l[1]["causation_id"] is not None

            # -- the grant file: who may read it, and what it says ----------------------------
            mine = await api.get(f"/grants/{c}", **grantee(cvrs["C"]),
                                 when="2024-02-03T08:00:00")
            assert mine.status_code == 200, mine.text
            file_c = mine.json()
            assert {k: file_c[k] for k in ("status", "audit_level", "paid_oere", "spent_oere",
                                           "repayment", "awarded_oere")} == {
                "status": "closed", "audit_level": "auditor_statement",
                "paid_oere": 18_000_000, "spent_oere": 17_000_000,
                "repayment": {"claimed_oere": 1_000_000, "waived_oere": 0},
                "awarded_oere": 20_000_000}
            assert [e["event_type"] for e in file_c["timeline"]] == [
                "ApplicationReceived", "ApplicationAccepted", "GrantAwarded", "AwardAccepted",
                "RevisedBudgetApproved", "PaymentInstructed", "PaymentExecuted",
                "ReportSubmitted", "ReportAccepted", "RepaymentClaimed"]
            assert (await api.get(f"/grants/{c}", **grantee(cvrs["W"]),
                                  when="2024-02-03T08:00:00")).status_code == 403
            for reader in (CASEWORKER, AUDITOR):
                assert (await api.get(f"/grants/{c}", **reader,
                                      when="2024-02-03T08:00:00")).json() == file_c
            assert (await api.get(f"/grants/{c}", who="x", roles=["finance"], cvr=None,
                                  when="2024-02-03T08:00:00")).status_code == 403

            # -- redelivery of every input, and the same facts under new event ids ------------
            async def effects() -> dict[str, Any]:
                counts = await runtime.pool.fetch(
                    "SELECT convert_from(value, 'UTF8')::jsonb->>'event_type' AS t,"
                    " count(*) AS n FROM outbox WHERE key = ANY($1::text[]) GROUP BY 1",
                    sorted(ours))
                files = await runtime.pool.fetch(
                    "SELECT application_id, state FROM grant_files"
                    " WHERE application_id = ANY($1::uuid[]) ORDER BY 1", list(ids.values()))
                return {"events": {x["t"]: x["n"] for x in counts},
                        "files": [json.loads(x["state"]) for x in files]}

            before = await effects()
            assert before["events"] == {"ReportSubmitted": 5, "ReportAccepted": 4,
                                        "ReportRejected": 1, "RepaymentClaimed": 3,
                                        "RepaymentWaived": 1, "ReportOverdue": 1}
            await feed.resend()
            await feed.publish(DECISIONS, c, award(c, pool_id, cvrs["C"], "751", amounts["C"],
                                                   applied["C"]), "2024-03-01T08:00:00")
            await feed.publish(RESULTS, lt, executed(late_2, "2024-03-01T08:00:00"),
                               "2024-03-01T08:00:00", role="finance")
            await eventually(feed.consumed(runtime))
            assert await effects() == before

            # -- the console's timeline of one application: every event about it, in order ----
            timeline = f"/applications/{w}/events"
            assert (await http.get(timeline)).status_code == 401
            assert (await api.get(timeline, **grantee(cvrs["W"]),
                                  when="2024-03-02T08:00:00")).status_code == 403
            told = await api.get(timeline, **AUDITOR, when="2024-03-02T08:00:00")
            assert told.status_code == 200, told.text
            assert told.json()["application_id"] == str(w)
            steps = told.json()["events"]
            kinds = [e["event_type"] for e in steps]
            assert {"ApplicationReceived", "GrantAwarded", "AwardAccepted",
                    "PaymentInstructed"} <= set(kinds)
            assert kinds.index("GrantAwarded") < kinds.index("AwardAccepted")
            assert [e["occurred_at"] for e in steps] == sorted(e["occurred_at"] for e in steps)
            assert all(e["summary"] and e["actor"]["role"] for e in steps)

            # -- the pool overview and the 360Giving exports ----------------------------------
            assert (await http.get(f"/pools/{pool_id}/overview")).status_code == 401
            overview = await api.get(f"/pools/{pool_id}/overview", who="anyone",
                                     roles=["assessor"], cvr=None, when="2024-03-02T08:00:00")
            assert overview.status_code == 200, overview.text
            figures = {"applications": 5, "applied_oere": 112_000_000, "awards": 5,
                       "awarded_oere": 90_000_000, "released": 0, "released_oere": 0,
                       "accepted": 4, "accepted_oere": 70_000_000,
                       "paid_oere": 63_000_000, "spent_oere": 33_950_001,
                       "repaid_oere": 11_000_000, "waived_oere": 49_999}
            assert overview.json()["total"] == figures
            assert overview.json()["sub_pools"] == {REGION: figures}
            assert overview.json()["title"] == POOL.title
            assert overview.json()["sub_pool_amounts_oere"] == {REGION: 100_000_000}
            missing = await api.get(f"/pools/no-such-{uuid.uuid4().hex[:8]}/overview", **AUDITOR,
                                    when="2024-03-02T08:00:00")
            assert missing.status_code == 404

            exported = await api.get("/exports/360giving.json", **AUDITOR,
                                     when="2024-03-02T08:00:00")
            assert exported.status_code == 200, exported.text
            grants = {g["id"]: g for g in exported.json()["grants"]}
            grant_c = grants[f"360G-sbst-{c}"]
            assert (grant_c["amountAwarded"], grant_c["amountDisbursed"]) == (200000.0, 180000.0)
            assert grant_c["recipientOrganization"][0]["id"] == f"DK-CVR-{cvrs['C']}"
            assert grant_c["grantProgramme"][0]["title"] == POOL.title
            assert {f"360G-sbst-{i}" for i in ids.values()} <= set(grants)
            assert '"amountAwarded": 200000.00' in exported.text  # exact decimals, no float
            sheet = await api.get("/exports/360giving.csv", **AUDITOR, when="2024-03-02T08:00:00")
            assert sheet.status_code == 200 and sheet.headers["content-type"].startswith(
                "text/csv")
            rows = list(csv.DictReader(io.StringIO(sheet.text)))
            row_l = next(x for x in rows if x["Identifier"] == f"360G-sbst-{lt}")
            assert (row_l["Amount Awarded"], row_l["Amount Disbursed"]) == ("200000.00",
                                                                           "180000.00")

            # -- the relay published; the audit chain verifies --------------------------------
            on_log = [event_of(x) for x in await records_keyed(kafka_bootstrap, REPORTS,
                                                               {str(o)}, want=1)]
            assert [e["event_type"] for e in on_log] == ["ReportOverdue"]
            rows_chain = await audit_rows(runtime)
            entries = chain_entries(rows_chain)
            assert entries and audit_chain.verify(entries) is None
            assert len(entries) == await runtime.pool.fetchval("SELECT count(*) FROM outbox")
            tampered = next(x for x in rows_chain
                            if json.loads(x["entry"])["event"]["event_type"] == "RepaymentClaimed"
                            and json.loads(x["entry"])["event"]["aggregate_id"] == str(c))

        # -- tamper with one audit entry: the auditors' chain check names it --------------------
        database = fresh_database.rpartition("/")[2]
        conn = await asyncpg.connect(fresh_database)
        try:
            changed = await conn.fetchval(
                "UPDATE audit_log SET entry = replace(entry, '\"amount_oere\":1000000',"
                " '\"amount_oere\":1') WHERE seq = $1 RETURNING entry", tampered["seq"])
        finally:
            await conn.close()
        assert changed != tampered["entry"]
        report = await verify_chain(pg_url, database, {})
        assert report.problem is not None
        assert (report.problem["seq"], report.problem["event_id"]) == (
            tampered["seq"], str(tampered["event_id"]))
        assert report.problem["message"] == "entry_hash does not match its content"
    finally:
        await kafka.stop()


async def _emitted(runtime: ServiceRuntime, app_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await runtime.pool.fetch("SELECT value FROM outbox WHERE key = $1 ORDER BY id",
                                    str(app_id))
    return [json.loads(x["value"]) for x in rows]


# -- the auditors' replay names an injected invariant-breaking event ------------------------------

async def test_replay_names_an_injected_invariant_breaking_event(private_kafka: str) -> None:
    """An award over its sub-pool and a payment with no approved budget on a log of this test's
    own (a durable broker keeps earlier sessions' events, whose violations would come first)."""
    kafka_bootstrap = private_kafka
    decisions, instructions = topics.ASSESSMENT_DECISIONS.name, topics.PAYMENTS_INSTRUCTIONS.name
    pool_id = f"it-replay-{uuid.uuid4().hex[:8]}"
    app_id, cvr = uuid.uuid4(), random_cvr()
    too_big = award(app_id, pool_id, cvr, "751", 5_000_000, 5_000_000,
                    sub_pool_amount=1_000_000)
    unbudgeted = instruction(app_id, cvr, 1_000_000)
    award_bytes = envelope_bytes(too_big, str(app_id), occurred_at=at("1990-01-01T00:00:00"))
    payment_bytes = envelope_bytes(unbudgeted, str(app_id), occurred_at=at("1990-01-02T00:00:00"))
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(decisions, award_bytes, key=str(app_id).encode())
        await producer.send_and_wait(instructions, payment_bytes, key=str(app_id).encode())
    finally:
        await producer.stop()

    events, _undecodable = await read_log(kafka_bootstrap)
    ids = {str(e.envelope.event_id) for e in events}
    award_id = json.loads(award_bytes)["event_id"]
    payment_id = json.loads(payment_bytes)["event_id"]
    assert {award_id, payment_id} <= ids
    result = replay(events)
    assert not result.verified
    over = result.violation("sub_pool_within_amount")
    assert over is not None and over.event_id == award_id, result.violations
    assert over.event_type == "GrantAwarded" and over.topic == decisions
    unpaid = result.violation("payments_within_budget")
    assert unpaid is not None and unpaid.event_id == payment_id, result.violations

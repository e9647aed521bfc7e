"""What intake accepts, every downstream service can store (issue 14), on the real broker and
PostgreSQL: intake, assessment and reporting run in-process on a broker of the test's own, each
with its own database, wired only through Kafka as in production.

- Generated submissions at the edges of ``contracts.bounds`` (texts at their maximum length,
  tab/newline/CR in multi-line fields, non-BMP characters, RTL marks and other format characters,
  amounts at the 10^15 øre ceiling, 1,000 budget lines, unusual but valid CVRs and
  municipalities, register names at 200 characters), over HTTP and on the portal topic: every
  one intake accepts reaches assessment (its eligibility gate) and reporting (its events, text
  for text), nothing is dead-lettered, and the auditors' replay verifies with no unprocessed
  input.
- R23 (g): when assessment cannot store an accepted application (a database trigger refuses its
  row, as a NUL once did), the record is dead-lettered and the replay says so twice: the dead
  letters as unprocessed inputs, and — once assessment decided the pool after the acceptance —
  the violation ``accepted_reaches_assessment`` naming the ApplicationAccepted. Before the pool
  is decided the application may be in flight and the replay verifies.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from hypothesis import strategies as st

from contracts import topics
from contracts.bounds import LONG_TEXT, MAX_AMOUNT_OERE, MAX_LIST, MAX_QUANTITY, SHORT_TEXT
from contracts.municipalities import municipalities
from contracts.register import CVR_WEIGHTS
from grants.audit import audit_replay
from grants.stack import create_database, drop_database
from servicekit.clock import HTTP_SIMULATED_TIME_HEADER
from servicekit.identity import DevTokenIssuer
from servicekit.service import ServiceRuntime
from services.assessment.app import build as build_assessment
from services.intake.app import build as build_intake
from services.reporting.app import build as build_reporting
from tests.infra.examples import drawn
from tests.infra.services import Feed, Tokens, at, eventually, running_service
from tests.unit.assessment.builders import PURPOSE, TARGET, pool_raw, scores_summing

pytestmark = [pytest.mark.integration,
              pytest.mark.filterwarnings("ignore:Do not use the `random` module")]
WAIT = 60.0
KINDS = ["municipality", "region", "voluntary_organisation", "private_supplier", "other"]
REGISTERED = "2025-04-01T08:00:00"
SUBMITTED = "2025-05-01T08:00:00"  # the pool's deadline is 2025-05-15 12:00 Copenhagen
DECIDED = "2025-06-01T08:00:00"
# Format characters, RTL marks and overrides, a BOM, line/paragraph separators (not control
# characters), a combining accent, noncharacters, the highest code point, non-BMP emoji/maths.
SPECIAL = ["\u200f", "\u200e", "\u202e", "\u2066", "\ufeff", "\u2028", "\u2029", "\u0301",
           "\ufffe", "\uffff", "\U0010ffff", "\U0001f600", "\U0001d518", "\u00a0", "ß", "Å"]
MULTI_LINE = ["\t", "\n", "\r"]
EVENT_TYPE = "convert_from(value, 'UTF8')::jsonb->>'event_type'"  # of an outbox row
EVENT_ID = "convert_from(value, 'UTF8')::jsonb->>'event_id'"


def _text(*, multi_line: bool, max_size: int) -> st.SearchStrategy[str]:
    plain = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"))
    extra = SPECIAL + (MULTI_LINE if multi_line else [])
    chars = st.one_of(plain, st.sampled_from(extra))
    fill = st.sampled_from(["x", "😀", "\u200f", "ø"] + (["\n", "\t"] if multi_line else []))
    edge = fill.map(lambda c: (c * max_size)[:max_size])  # exactly at the maximum
    return st.one_of(st.text(chars, min_size=1, max_size=40), edge)


def _cvr(seven: int) -> str | None:
    digits = [int(d) for d in f"{seven:07d}"]
    check = -sum(w * d for w, d in zip(CVR_WEIGHTS, digits, strict=False)) % 11
    return None if check == 10 else f"{seven:07d}{check}"


@st.composite
def organisations(draw: st.DrawFn) -> dict[str, Any]:
    """A register entry: CVRs from 0000000x up, every municipality, names at the edges."""
    cvr = draw(st.integers(0, 9_999_999).map(_cvr).filter(bool))
    code = draw(st.sampled_from(sorted(municipalities())))
    # the register takes printable names only (contracts.register: no format characters)
    name = _text(multi_line=False, max_size=SHORT_TEXT).filter(
        lambda text: bool(text.strip()) and text.isprintable())
    return {"cvr": cvr, "name": draw(name),
            "kind": draw(st.sampled_from(KINDS)), "municipality_code": code}


@st.composite
def budgets(draw: st.DrawFn) -> dict[str, Any]:
    mode = draw(st.sampled_from(["ceiling", "salary_ceiling", "many", "long_posts", "few"]))
    if mode == "ceiling":
        lines = [{"post": "everything", "category": "other", "amount_oere": MAX_AMOUNT_OERE}]
    elif mode == "salary_ceiling":
        rate = MAX_AMOUNT_OERE // MAX_QUANTITY
        lines = [{"post": "staff", "category": "salary", "rate_oere": rate,
                  "quantity": MAX_QUANTITY, "amount_oere": rate * MAX_QUANTITY}]
    else:
        n = {"many": MAX_LIST, "long_posts": 5}.get(mode) or draw(st.integers(1, 4))
        lines = []
        for i in range(n):
            post = (f"{i:04d} " + draw(_text(multi_line=False, max_size=SHORT_TEXT)))[:SHORT_TEXT]
            if mode == "many":
                post = f"post {i}"
            amount = draw(st.integers(0, MAX_AMOUNT_OERE // n))
            lines.append({"post": post, "category": "other", "amount_oere": amount})
    return {"lines": lines, "total_oere": sum(line["amount_oere"] for line in lines)}


@st.composite
def submissions(draw: st.DrawFn) -> dict[str, Any]:
    """A submission body without ids, pool or applicant (filled in when sent)."""
    long = _text(multi_line=True, max_size=LONG_TEXT)
    return {
        "purpose": draw(_text(multi_line=True, max_size=2000)),
        "target_group": draw(st.sampled_from([TARGET]) | _text(multi_line=True, max_size=2000)),
        "description": draw(long), "organisation": draw(long), "anchoring_plan": draw(long),
        "budget": draw(budgets()),
        "client_sent_at": draw(st.sampled_from([None, "2025-04-30T23:59:59.999999+14:00"])),
    }


def _body(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


@dataclass
class Pipeline:
    intake: httpx.AsyncClient
    assessment: httpx.AsyncClient
    reporting: httpx.AsyncClient
    runtimes: dict[str, ServiceRuntime]
    tokens: Tokens
    kafka: str

    def headers(self, when: str, who: str, *roles: str, cvr: str | None = None
                ) -> dict[str, str]:
        return {**self.tokens(who, *roles, cvr=cvr),
                HTTP_SIMULATED_TIME_HEADER: at(when).isoformat(),
                "Content-Type": "application/json"}

    async def pool(self, run: str, **overrides: Any) -> str:
        raw = pool_raw(pool_id=f"it-accept-{run}", programme=f"it-accept-{run}", sub_pools=[],
                       applicant_group=KINDS, **overrides)
        made = await self.assessment.post("/pools", content=_body(raw),
                                          headers=self.headers(REGISTERED, "cw-1", "caseworker"))
        assert made.status_code == 201, made.text
        pool_id: str = raw["pool_id"]
        await eventually(lambda: self.knows("intake", "SELECT 1 FROM pools WHERE pool_id = $1",
                                            pool_id), timeout=WAIT)
        return pool_id

    async def register(self, organisation: dict[str, Any]) -> None:
        made = await self.assessment.post("/organisations", content=_body(organisation),
                                          headers=self.headers(REGISTERED, "cw-1", "caseworker"))
        assert made.status_code in (200, 201), made.text

    async def knows(self, service: str, sql: str, *args: Any) -> bool:
        return bool(await self.runtimes[service].pool.fetchval(sql, *args))

    @staticmethod
    def body(pool_id: str, organisation: dict[str, Any], fields: dict[str, Any]
             ) -> dict[str, Any]:
        return {"submission_id": str(uuid.uuid4()), "application_id": str(uuid.uuid4()),
                "pool_id": pool_id,
                "applicant": {"cvr": organisation["cvr"], "name": organisation["name"],
                              "municipality_code": organisation["municipality_code"],
                              "kind": organisation["kind"]}, **fields}

    async def submit(self, pool_id: str, organisation: dict[str, Any], fields: dict[str, Any]
                     ) -> tuple[httpx.Response, dict[str, Any]]:
        body = self.body(pool_id, organisation, fields)
        sent = await self.intake.post("/submissions", content=_body(body), headers=self.headers(
            SUBMITTED, "employee-1", "applicant", cvr=organisation["cvr"]))
        return sent, body

    async def publish(self, feed: Feed, pool_id: str, organisation: dict[str, Any],
                      fields: dict[str, Any]) -> dict[str, Any]:
        """The same submission on the portal topic (as a portal forwards it)."""
        body = self.body(pool_id, organisation, fields)
        token = self.tokens.issuer.issue("employee-1", ["applicant"], cvr=organisation["cvr"])
        await feed.produce(topics.PORTAL_SUBMISSIONS.name, body["application_id"],
                           _body({"token": token, "submission": body}), at(SUBMITTED))
        return body

    async def accepted(self, application_id: str) -> bool:
        return await self.knows("intake", "SELECT 1 FROM outbox WHERE key = $1 AND"
                                f" {EVENT_TYPE} = 'ApplicationAccepted'", application_id)

    async def reached(self, application_id: str) -> bool:
        """Assessment ran its gate on it, and reporting holds intake's and assessment's events."""
        gate = await self.knows("assessment", "SELECT 1 FROM outbox WHERE key = $1 AND"
                                f" {EVENT_TYPE} = 'EligibilityAssessed'", application_id)
        kept = await self.runtimes["reporting"].pool.fetchval(
            "SELECT count(DISTINCT event_type) FROM events WHERE application_id = $1 AND"
            " event_type IN ('ApplicationReceived', 'ApplicationAccepted', 'EligibilityAssessed')",
            uuid.UUID(application_id))
        return gate and kept == 3

    def dead_lettered(self) -> dict[str, int]:
        return {name: sum(c.dead_lettered for c in runtime.consumers)
                for name, runtime in self.runtimes.items()}


@pytest.fixture
async def pipeline(private_kafka: str, pg_url: str, tmp_path: Path
                   ) -> AsyncIterator[Pipeline]:
    issuer = DevTokenIssuer(tmp_path)
    urls = {s: f"{pg_url}/test_{s}_{uuid.uuid4().hex[:10]}"
            for s in ("intake", "assessment", "reporting")}
    for url in urls.values():
        await create_database(pg_url, url.rpartition("/")[2])
    try:
        async with running_service(build_assessment, private_kafka, urls["assessment"], issuer,
                                   name="assessment", simulation=True) as (ra, assessment), \
                running_service(build_intake, private_kafka, urls["intake"], issuer,
                                name="intake", simulation=True) as (ri, intake), \
                running_service(build_reporting, private_kafka, urls["reporting"], issuer,
                                name="reporting", simulation=True) as (rr, reporting):
            yield Pipeline(intake, assessment, reporting,
                           {"intake": ri, "assessment": ra, "reporting": rr}, Tokens(issuer),
                           private_kafka)
    finally:
        for url in urls.values():
            await drop_database(pg_url, url.rpartition("/")[2])


ORGANISATIONS = 8
SUBMISSIONS = 30


async def test_every_accepted_input_reaches_assessment_and_reporting(pipeline: Pipeline) -> None:
    run = uuid.uuid4().hex[:8]
    register: dict[str, dict[str, Any]] = {}
    for organisation in drawn(organisations(), ORGANISATIONS):
        register[organisation["cvr"]] = organisation  # one entry per CVR (the last one drawn)
    for organisation in register.values():
        await pipeline.register(organisation)
    pool_id = await pipeline.pool(run)
    orgs = list(register.values())
    await eventually(lambda: pipeline.knows(
        "intake", "SELECT count(*) = $1 FROM organisations WHERE cvr = ANY($2::text[])",
        len(orgs), [o["cvr"] for o in orgs]), timeout=WAIT)

    accepted: dict[str, dict[str, Any]] = {}
    refused: list[tuple[int, str]] = []
    portal: dict[str, dict[str, Any]] = {}
    producer = AIOKafkaProducer(bootstrap_servers=pipeline.kafka, acks="all")
    await producer.start()
    try:
        for n, fields in enumerate(drawn(submissions(), SUBMISSIONS)):
            organisation = orgs[n % len(orgs)]
            if n % 3 == 2:  # every third one on the portal topic
                body = await pipeline.publish(Feed(producer), pool_id, organisation, fields)
                portal[body["application_id"]] = body
                continue
            sent, body = await pipeline.submit(pool_id, organisation, fields)
            assert sent.status_code < 500, sent.text
            if sent.status_code in (200, 201) and sent.json().get("status") == "on_time":
                accepted[body["application_id"]] = body
            else:
                refused.append((sent.status_code, sent.text[:300]))
    finally:
        await producer.stop()
    # the generator is at the edges, not outside them: everything it draws is valid
    assert not refused, refused

    async def portal_accepted() -> bool:
        return all([await pipeline.accepted(a) for a in portal])
    await eventually(portal_accepted, timeout=WAIT, interval=0.2)
    accepted |= portal

    async def all_reached() -> bool:
        for application_id in accepted:
            if not await pipeline.reached(application_id):
                return False
        return True
    await eventually(all_reached, timeout=WAIT, interval=0.2)
    assert pipeline.dead_lettered() == {"intake": 0, "assessment": 0, "reporting": 0}

    # reporting kept the texts exactly as the applicant sent them (tab, CR, RTL, non-BMP)
    rows = await pipeline.runtimes["reporting"].pool.fetch(
        "SELECT envelope FROM events WHERE event_type = 'ApplicationReceived' AND"
        " application_id = ANY($1::uuid[])", [uuid.UUID(a) for a in accepted])
    assert len(rows) == len(accepted)
    for row in rows:
        payload = json.loads(row["envelope"])["payload"]
        body = accepted[payload["application_id"]]
        for field in ("purpose", "target_group", "description", "organisation",
                      "anchoring_plan"):
            assert payload[field] == body[field], field
        assert payload["budget"] == body["budget"] | {
            "lines": [{"rate_oere": None, "quantity": None} | line
                      for line in body["budget"]["lines"]]}
        assert payload["applicant"]["name"] == register[payload["applicant"]["cvr"]]["name"]

    report = await audit_replay(pipeline.kafka)
    summary = report.summary()
    assert report.verified, summary["violations"]
    assert summary["unprocessed_inputs"] == []
    assert summary["totals"]["applications"] == len(accepted)


async def test_an_accepted_application_assessment_never_stored_is_a_violation(
        pipeline: Pipeline) -> None:
    run = uuid.uuid4().hex[:8]
    organisation = {"cvr": _cvr(2_918_984), "name": "Aarhus Kommune", "kind": "municipality",
                    "municipality_code": "751"}
    await pipeline.register(organisation)
    pool_id = await pipeline.pool(run)
    await eventually(lambda: pipeline.knows("intake", "SELECT 1 FROM organisations WHERE cvr = $1",
                                            organisation["cvr"]), timeout=WAIT)
    lost = str(uuid.uuid4())
    # Assessment's database refuses the lost application's row (a non-transient error): its
    # consumer dead-letters the record alone (handler_failed), as it did a NUL before issue 14.
    await pipeline.runtimes["assessment"].pool.execute(f"""
        CREATE FUNCTION refuse_lost() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.application_id = '{lost}'::uuid THEN RAISE EXCEPTION 'cannot store'; END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_lost BEFORE INSERT OR UPDATE ON application_files
          FOR EACH ROW EXECUTE FUNCTION refuse_lost();""")
    fields = {"purpose": PURPOSE, "target_group": TARGET,
              "budget": {"lines": [{"post": "staff", "category": "other",
                                    "amount_oere": 50_000_000}], "total_oere": 50_000_000}}
    kept, _ = await pipeline.submit(pool_id, organisation, fields)
    assert kept.status_code in (200, 201) and kept.json()["status"] == "on_time", kept.text
    kept_id = kept.json()["application_id"]
    missing, _ = await pipeline.submit(pool_id, organisation, {**fields, "application_id": lost})
    assert missing.status_code in (200, 201) and missing.json()["status"] == "on_time", missing.text

    await eventually(lambda: pipeline.reached(kept_id), timeout=WAIT)
    await eventually(lambda: pipeline.dead_lettered()["assessment"] >= 2, timeout=WAIT)

    # before the pool is decided the lost application may still be on its way: verified, with
    # the two dead letters as unprocessed: its ApplicationReceived (the row refused) and its
    # ApplicationAccepted (no such application in assessment)
    before = (await audit_replay(pipeline.kafka)).summary()
    assert before["verified"], before["violations"]
    dead = [u for u in before["unprocessed_inputs"] if u["message"] == "dead-lettered"]
    assert sorted(u["error_code"] for u in dead) == ["application_unknown", "handler_failed"]

    scored = await pipeline.assessment.post(
        f"/applications/{kept_id}/scores", headers=pipeline.headers(DECIDED, "assessor-a",
                                                                     "assessor"),
        content=_body({"scores": scores_summing(20, first=5), "justification": "as described"}))
    assert scored.status_code == 201, scored.text
    decided = await pipeline.assessment.post(
        f"/pools/{pool_id}/allocations", content=b"{}",
        headers=pipeline.headers(DECIDED, "approver-x", "approver"))
    assert decided.status_code == 200, decided.text
    assert {d["application_id"] for d in decided.json()["decisions"]} == {kept_id}

    async def flagged() -> bool:
        return (await audit_replay(pipeline.kafka)).summary()["verified"] is False
    await eventually(flagged, timeout=WAIT, interval=0.5)
    after = (await audit_replay(pipeline.kafka)).summary()
    violations = after["violations"]
    assert [v["invariant"] for v in violations] == ["accepted_reaches_assessment"], violations
    acceptance = await pipeline.runtimes["intake"].pool.fetchval(
        f"SELECT {EVENT_ID} FROM outbox WHERE key = $1 AND {EVENT_TYPE} = 'ApplicationAccepted'",
        lost)
    assert (violations[0]["event_type"], violations[0]["event_id"]) == (
        "ApplicationAccepted", acceptance)
    assert lost not in json.dumps(violations[0]["message"])
    assert organisation["cvr"] not in json.dumps(after)

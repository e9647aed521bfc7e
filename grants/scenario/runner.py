"""Plays a scenario through the running services, over their public interfaces.

Submissions, exception contacts and decisions go to intake's HTTP API; scores and allocation to
assessment's; acceptance, budgets and payment runs to payments'; reports to reporting's; finance
results are published on the finance results topic like a finance system does. Every call carries
the action's instant as simulated time and a correlation id. Before an action the runner waits
for the effects it depends on (see :mod:`grants.scenario.settle`); the result is rebuilt from the
event log by the auditors' replay projection, so it shows what the services actually did.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from contracts import topics
from contracts.base import Actor
from contracts.envelope import SIMULATED_TIME_HEADER
from contracts.finance import PaymentExecuted, PaymentFailed
from contracts.registry import envelope_of
from grants.scenario import model as m
from grants.scenario.settle import Settler
from grants.scenario.tail import EventTail
from grants.stack import ALL_SERVICES
from servicekit.identity import DevTokenIssuer

SERVICES = ALL_SERVICES
# Actions no time-driven rule can change the outcome of (see ScenarioRunner._play).
_NO_TICK_BEFORE = frozenset({"finance_result"})
# A CVR that passes modulus 11, for an IT-problem contact whose ref never submits.
PLACEHOLDER_CVR = "10000009"
# The second person of a two-person re-issue (R19): a scenario names only the first.
SECOND_CASEWORKER = "scenario-second-caseworker"


@dataclass
class Endpoints:
    kafka_bootstrap: str
    pg_url: str
    urls: dict[str, str]
    # TLS/SASL client arguments on an existing Kafka (StackState.kafka_client_options)
    kafka_options: dict[str, Any] = field(default_factory=dict)


@dataclass
class RefState:
    application_id: uuid.UUID
    submission_ids: list[str] = field(default_factory=list)
    receipt: dict[str, Any] | None = None


@dataclass
class Note:
    action: int
    type: str
    ref: str | None
    status: int
    error: str

    def as_json(self) -> dict[str, Any]:
        return {"action": self.action, "type": self.type, "ref": self.ref, "status": self.status,
                "error": self.error}


_RUN_NAMESPACE = uuid.UUID("6f1d3c2a-4b7e-5a90-9c1d-2e3f4a5b6c7d")


def _scenario_seed(scenario: m.Scenario, namespace: str | None) -> str:
    text = scenario.model_dump_json() + "\0" + (namespace or "")
    return hashlib.sha256(text.encode()).hexdigest()


class ScenarioRunner:
    def __init__(self, scenario: m.Scenario, endpoints: Endpoints, issuer: DevTokenIssuer, *,
                 namespace: str | None = None,
                 on_progress: Callable[[int, m.Action], None] | None = None,
                 audit: Callable[[], Any] | None = None) -> None:
        self.scenario = scenario
        self.endpoints = endpoints
        self.issuer = issuer
        self.namespace = namespace
        self.on_progress = on_progress
        self.audit = audit
        # Every id the runner makes is derived from the scenario (and the namespace of a run on a
        # stack that holds other runs): the same round on a fresh stack makes the same log
        # content, so the replay's state digest is the same (R23: a function of the log).
        self._seed = _scenario_seed(scenario, namespace)
        self.run_id = self._seed[:10]
        self.refs: dict[str, RefState] = {}
        self.notes: list[Note] = []
        self.audit_result: Any = None
        self.rebuilt: Any = None  # the replay of the run's events, set with the result
        self._tokens: dict[tuple[str, tuple[str, ...], str | None], str] = {}
        self._last_target: str | None = None
        # Finance results are enqueued without waiting each; their acks are awaited together
        # before anything that could depend on them (any other action).
        self._unacked: list[Any] = []
        self._reported: set[uuid.UUID] = set()  # instructions finance has reported on
        self.seconds_by_type: dict[str, float] = {}
        # The services' schedulers are driven by the scenario's clock (servicekit.scheduler):
        # once something is awarded, each later instant is ticked before its action. Reporting
        # first: an overdue report's hold must reach payments before payments' rules run.
        self._scheduled = ["reporting", "payments"]
        self._ticked_at: datetime | None = None
        # Counts what the runner sent that can change a service's state (see _call); a service's
        # answer of when its rules are next due holds while the count stays where it was read.
        self._changes = 0
        self._next_due: dict[str, tuple[int, dict[str, Any]]] = {}
        # What the clock cost (the result's run.clock): instants moved to, ticks run and their
        # seconds, ticks skipped (nothing due), next-due questions asked.
        self.clock: dict[str, float] = {"instants": 0, "ticks": 0, "tick_s": 0.0,
                                        "ticks_skipped": 0, "next_due_asked": 0}
        self._allocated = False
        # True from a settle of every service until the runner next sends anything that can
        # change a service's state (see _quiesce): a settled system nobody sends to stays
        # settled, so barriers in between have nothing to wait for and are skipped.
        self._quiet = False

    # -- ids and names --------------------------------------------------------------------------
    def _uuid(self, *parts: object) -> uuid.UUID:
        return uuid.uuid5(_RUN_NAMESPACE, ":".join([self._seed, *map(str, parts)]))

    def _ns(self, name: str) -> str:
        return f"{name}-{self.namespace}" if self.namespace else name

    @property
    def pool_id(self) -> str:
        return self._ns(self.scenario.pool.pool_id)

    def _ref(self, ref: str) -> RefState:
        if ref not in self.refs:
            self.refs[ref] = RefState(self._uuid("application", ref))
        return self.refs[ref]

    def _applicant_cvr(self, ref: str) -> str:
        first = self.scenario.first_submit(ref)
        return first.applicant.cvr if first else PLACEHOLDER_CVR

    def _token(self, subject: str, role: str, cvr: str | None = None) -> str:
        key = (subject, (role,), cvr)
        if key not in self._tokens:
            self._tokens[key] = self.issuer.issue(subject, [role], cvr=cvr, ttl_s=6 * 3600)
        return self._tokens[key]

    def _headers(self, at: datetime, token: str, index: int) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "X-Grants-Simulated-Time": at.isoformat(),
                "X-Correlation-Id": f"scenario-{self.run_id}-{index}"}

    # -- running --------------------------------------------------------------------------------
    async def run(self) -> dict[str, Any]:
        # Idle connections are dropped well before the services' keep-alive timeout (uvicorn's
        # 5 s, httpx's default expiry too): reusing one the server is closing fails the request
        # (httpx.ReadError), which the fewer calls of a clock that skips ticks made likelier.
        self.http = httpx.AsyncClient(timeout=60.0, limits=httpx.Limits(keepalive_expiry=2.0))
        self.tail = EventTail(self.endpoints.kafka_bootstrap, self.endpoints.kafka_options)
        self.producer = AIOKafkaProducer(bootstrap_servers=self.endpoints.kafka_bootstrap,
                                         **self.endpoints.kafka_options,
                                         acks="all")
        await self.tail.start()
        await self.producer.start()
        try:
            self.settler = Settler(self.http, self.endpoints.urls, self.tail)
            await self._set_up_pool()
            for index, action in enumerate(self.scenario.actions):
                started = time.perf_counter()
                await self._play(index, action)
                spent = time.perf_counter() - started
                self.seconds_by_type[action.type] = self.seconds_by_type.get(action.type, 0) + spent
                if self.on_progress:
                    self.on_progress(index, action)
            await asyncio.gather(*self._unacked)
            await self.settler.settle()
            return self._result()
        finally:
            await self.producer.stop()
            await self.tail.stop()
            await self.http.aclose()

    async def _call(self, index: int, action: m.Action | None, service: str, method: str,
                    path: str, *, token: str, at: datetime, body: Any = None,
                    ref: str | None = None) -> httpx.Response:
        url = f"{self.endpoints.urls[service]}{path}"
        if method != "GET":
            self._quiet = False
            self._changes += 1
        response = await self.http.request(method, url, json=body,
                                           headers=self._headers(at, token, index))
        if response.status_code >= 400 and action is not None:
            try:
                body = response.json()
                error = body.get("error") or ",".join(
                    r.get("code", "") for r in body.get("reasons", []) if isinstance(r, dict))
            except (ValueError, AttributeError):
                error = response.text[:200]
            self.notes.append(Note(index, action.type, ref, response.status_code, str(error)))
        if response.status_code >= 500:
            raise RuntimeError(f"{service} {method} {path} failed: {response.status_code} "
                               f"{response.text[:300]}")
        return response

    async def _settle_for(self, target: str, *, always: bool = False) -> None:
        """Settle before an action on ``target``; consecutive actions on one service need no new
        barrier, since its own HTTP effects are synchronous."""
        if (always or target != self._last_target) and not self._quiet:
            await self.settler.settle({target})
        self._last_target = target

    async def _quiesce(self) -> None:
        """Settle every service (a superset of any target's barrier), unless nothing was sent
        since the last time they all settled."""
        if not self._quiet:
            await self.settler.settle()
            self._quiet = True

    async def _set_up_pool(self) -> None:
        at = self.scenario.actions[0].at if self.scenario.actions else datetime.now(UTC)
        pool = self.scenario.pool.model_dump(mode="json", exclude_unset=True)
        pool["pool_id"] = self.pool_id
        if self.scenario.pool.programme:
            pool["programme"] = self._ns(self.scenario.pool.programme)
        token = self._token("scenario-pool-admin", "caseworker")
        response = await self._call(-1, None, "assessment", "POST", "/pools", token=token, at=at,
                                    body=pool)
        if response.status_code >= 400:
            raise RuntimeError(f"assessment refused the pool: {response.text[:500]}")
        await self._load_register(token, at)
        for prior in self.scenario.prior_awards:
            # By CVR the register gives the municipality (the scenario's is a claim); a CVR the
            # register does not hold is named with the scenario's municipality.
            path = f"/programmes/{self._ns(prior.programme)}/prior-awards"
            grantee = self.scenario.grantee_of(prior)
            body: dict[str, Any] = {"pool_id": self._ns(prior.pool_id)}
            body.update({"cvr": grantee} if grantee else
                        {"municipality_code": prior.municipality_code})
            response = await self._call(-1, None, "assessment", "POST", path, token=token,
                                        at=at, body=body)
            if response.status_code == 422 and grantee:
                body["municipality_code"] = prior.municipality_code
                response = await self._call(-1, None, "assessment", "POST", path, token=token,
                                            at=at, body=body)
            if response.status_code >= 400:
                raise RuntimeError(f"assessment refused a prior award: {response.text[:300]}")
        await self.settler.settle()

    async def _load_register(self, token: str, at: datetime) -> None:
        """The register the round runs with (``Scenario.register``), loaded before the first
        action as a version of the register source ``scenario``: entries it does not change stay
        as they are; the CVRs are not namespaced (an organisation is who it is)."""
        for i, o in enumerate(self.scenario.organisations or []):
            for problem in o.problems():
                self.notes.append(Note(-1, "organisations", None, 422,
                                       f"register_invalid: organisations.{i}.{problem}"))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["cvr", "name", "kind", "municipality_code", "region_code"])
        for o in self.scenario.register():
            writer.writerow([o.cvr, o.name, o.kind, o.municipality_code, o.region_code or ""])
        response = await self.http.post(
            f"{self.endpoints.urls['assessment']}/register/sources/scenario",
            content=out.getvalue().encode(), headers={
                **self._headers(at, token, -1), "Content-Type": "text/csv"})
        if response.status_code >= 400:
            raise RuntimeError(f"assessment refused the register: {response.text[:500]}")

    async def _play(self, index: int, a: m.Action) -> None:
        if a.type != "finance_result" and self._unacked:
            await asyncio.gather(*self._unacked)
            self._unacked.clear()
        # A finance result depends on no time-driven rule (a payment executed is recorded
        # whatever holds or lapses say), so it moves no clock: the next other action ticks.
        if self._allocated and a.type not in _NO_TICK_BEFORE:
            await self._advance_clock(a.at)
        handler = getattr(self, f"_do_{a.type}")
        await handler(index, a)

    async def _advance_clock(self, at: datetime) -> None:
        """Time moves to ``at``: every service's time-driven rules run at that instant (their
        scheduler's tick), each after the effects it depends on have settled — unless, with
        everything settled, the service says none of its rules is due by ``at``: such a tick
        would find nothing to do, so it is skipped (servicekit.scheduler, "next due")."""
        if self._ticked_at is not None and at <= self._ticked_at:
            return
        self.clock["instants"] += 1
        token = self._token("scenario-clock", "caseworker")
        for service in list(self._scheduled):
            await self._quiesce()
            due = await self._due(service, at, token)
            if due is None:  # a service without time-driven rules
                self._scheduled.remove(service)
                continue
            if not due:
                self.clock["ticks_skipped"] += 1
                continue
            changes = self._changes
            started = time.perf_counter()
            response = await self._call(-1, None, service, "POST", "/ops/scheduler/tick",
                                        token=token, at=at, body={})
            self.clock["ticks"] += 1
            self.clock["tick_s"] += time.perf_counter() - started
            if response.status_code == 404:  # a service without time-driven rules
                self._scheduled.remove(service)
                self._quiet = True  # refused: nothing ran
                self._changes = changes
            elif response.status_code >= 400:
                raise RuntimeError(f"{service}'s scheduler did not tick: "
                                   f"{response.status_code} {response.text[:300]}")
            else:
                # A tick that wrote no event changed nothing another service consumes: the
                # services are as settled as before it (most instants have nothing due).
                body = response.json()
                self._quiet = body.get("emitted", 1) == 0
                if self._quiet:
                    self._changes = changes  # no event: nothing another service sees changed
                    if "next_due" in body:  # when its rules are due after this tick
                        self._next_due[service] = (changes, body["next_due"])
            self._last_target = service  # its own tick's effects are committed when it answers
        self._ticked_at = at

    async def _due(self, service: str, at: datetime, token: str) -> bool | None:
        """Whether any of ``service``'s rules could do something at ``at``, asked once the
        services have settled (None: it has no time-driven rules). The answer is reused while
        the runner has sent nothing that could change any service's state since it was read."""
        cached = self._next_due.get(service)
        if cached is None or cached[0] != self._changes:
            self.clock["next_due_asked"] += 1
            response = await self._call(-1, None, service, "GET", "/ops/scheduler/next-due",
                                        token=token, at=at)
            if response.status_code == 404:
                return None
            if response.status_code >= 400:
                raise RuntimeError(f"{service} did not say when its rules are due: "
                                   f"{response.status_code} {response.text[:300]}")
            cached = (self._changes, response.json())
            self._next_due[service] = cached
        answer = cached[1]
        first = answer.get("at")
        return bool(answer.get("always")) or (
            first is not None and datetime.fromisoformat(first) <= at)

    # -- actions --------------------------------------------------------------------------------
    async def _do_submit(self, index: int, a: m.Submit) -> None:
        await self._settle_for("intake")
        state = self._ref(a.ref)
        submission_id = str(self._uuid("submission", a.ref, len(state.submission_ids)))
        state.submission_ids.append(submission_id)
        applicant = a.applicant.model_dump(exclude_none=True)
        body: dict[str, Any] = {
            "submission_id": submission_id, "application_id": str(state.application_id),
            "pool_id": self.pool_id, "applicant": applicant, "purpose": a.purpose,
            "target_group": a.target_group, "budget": a.budget.model_dump(exclude_none=True),
            "client_sent_at": a.at.isoformat(),
        }
        for text in ("description", "organisation", "anchoring_plan"):
            if getattr(a, text) is not None:
                body[text] = getattr(a, text)
        cvr = a.submitter.cvr if a.submitter else a.applicant.cvr
        token = self._token(f"portal-user-{cvr}", "applicant", cvr)
        response = await self._call(index, a, "intake", "POST", "/submissions", token=token,
                                    at=a.at, body=body, ref=a.ref)
        try:
            state.receipt = response.json()
        except ValueError:
            state.receipt = None

    async def _do_it_problem_contact(self, index: int, a: m.ItProblemContact) -> None:
        await self._settle_for("intake")
        state = self._ref(a.ref)
        cvr = self._applicant_cvr(a.ref)
        body = {"pool_id": self.pool_id, "documentation": a.documentation,
                "attempted_before_deadline": a.attempted_before_deadline,
                "screenshot_at": a.screenshot_at.isoformat() if a.screenshot_at else None,
                "evidence_refs": [f"scenario-{self.run_id}-{index}"]}
        await self._call(index, a, "intake", "POST",
                         f"/applications/{state.application_id}/it-problem-contacts",
                         token=self._token(f"portal-user-{cvr}", "applicant", cvr), at=a.at,
                         body=body, ref=a.ref)

    async def _do_exception_decision(self, index: int, a: m.ExceptionDecision) -> None:
        await self._settle_for("intake")
        state = self._ref(a.ref)
        await self._call(index, a, "intake", "POST",
                         f"/applications/{state.application_id}/it-problem-decision",
                         token=self._token(a.by, "caseworker"), at=a.at,
                         body={"approve": a.approve}, ref=a.ref)

    async def _do_score(self, index: int, a: m.Score) -> None:
        await self._settle_for("assessment")
        state = self._ref(a.ref)
        await self._call(index, a, "assessment", "POST",
                         f"/applications/{state.application_id}/scores",
                         token=self._token(a.assessor, "assessor"), at=a.at,
                         body={"scores": a.scores, "justification": a.justification,
                               "conflict_of_interest": a.conflict_of_interest}, ref=a.ref)

    async def _do_allocate(self, index: int, a: m.Allocate) -> None:
        await self._settle_for("assessment", always=True)
        await self._call(index, a, "assessment", "POST", f"/pools/{self.pool_id}/allocations",
                         token=self._token(a.approver, "approver"), at=a.at, body={})
        self._allocated = True

    async def _do_accept_award(self, index: int, a: m.AcceptAward) -> None:
        await self._settle_for("payments")
        state = self._ref(a.ref)
        cvr = self._applicant_cvr(a.ref)
        await self._call(index, a, "payments", "POST",
                         f"/grants/{state.application_id}/acceptance",
                         token=self._token(f"portal-user-{cvr}", "applicant", cvr), at=a.at,
                         body={}, ref=a.ref)

    async def _do_revised_budget(self, index: int, a: m.RevisedBudget) -> None:
        await self._settle_for("payments")
        state = self._ref(a.ref)
        cvr = self._applicant_cvr(a.ref)
        await self._call(index, a, "payments", "POST",
                         f"/grants/{state.application_id}/revised-budgets",
                         token=self._token(f"portal-user-{cvr}", "applicant", cvr), at=a.at,
                         body={"months": a.months}, ref=a.ref)

    async def _do_run_payments(self, index: int, a: m.RunPayments) -> None:
        # Overdue reports and lapses were decided by the services' schedulers at this instant
        # (the clock's tick before this action); their holds stop this run (R18).
        token = self._token("scenario-scheduler", "caseworker")
        await self._settle_for("payments", always=True)
        await self._call(index, a, "payments", "POST", "/payment-runs", token=token, at=a.at,
                         body={"through": a.through.isoformat()})

    async def _do_finance_result(self, index: int, a: m.FinanceResult) -> None:
        """Finance reports every instruction of ``ref`` it has not reported yet, oldest first
        (a run can make a top-up and the next period at once); ``amount_oere`` (v1.1) is what
        it paid on the latest of them, the others are paid as instructed."""
        if self._last_target != "finance" and not self._quiet:
            await self.settler.settle({"payments"})
        self._last_target = "finance"
        state = self._ref(a.ref)
        instructions = [i for i in self.tail.instructions.get(str(state.application_id), [])
                        if i.instruction_id not in self._reported]
        if not instructions:
            self.notes.append(Note(index, a.type, a.ref, 0, "no_instruction_to_report"))
            return
        for n, instruction in enumerate(instructions):
            self._reported.add(instruction.instruction_id)
            amount = instruction.amount_oere
            if a.amount_oere is not None and n == len(instructions) - 1:
                amount = a.amount_oere
            await self._publish_result(index, a, state, instruction, amount)

    async def _publish_result(self, index: int, a: m.FinanceResult, state: RefState,
                              instruction: Any, amount: int) -> None:
        payload: PaymentExecuted | PaymentFailed
        if a.executed:
            payload = PaymentExecuted(instruction_id=instruction.instruction_id,
                                      amount_oere=amount, executed_at=a.at,
                                      finance_reference=f"FIN-{self.run_id}-{index}")
        else:
            payload = PaymentFailed(instruction_id=instruction.instruction_id, failed_at=a.at,
                                    reason="payment rejected by the bank")
        envelope = envelope_of(
            payload, event_id=self._uuid("finance-result", index),
            occurred_at=a.at, correlation_id=f"scenario-{self.run_id}-{index}",
            causation_id=str(instruction.instruction_id),
            actor=Actor(id="finance-system", role="finance"),
            aggregate_id=str(state.application_id), sequence=1)
        self._quiet = False
        self._changes += 1
        self._unacked.append(await self.producer.send(
            topics.FINANCE_RESULTS.name, envelope.model_dump_json().encode(),
            key=str(state.application_id).encode(),
            headers=[(SIMULATED_TIME_HEADER, a.at.isoformat().encode()),
                     ("event_type", envelope.event_type.encode())]))

    async def _grant_view(self, index: int, a: m.ReissuePayment | m.ApproveBudget
                          ) -> dict[str, Any] | None:
        await self._settle_for("payments", always=True)
        state = self._ref(a.ref)
        response = await self._call(index, a, "payments", "GET",
                                    f"/grants/{state.application_id}",
                                    token=self._token(a.by, "caseworker"), at=a.at, ref=a.ref)
        return response.json() if response.status_code == 200 else None

    async def _do_reissue_payment(self, index: int, a: m.ReissuePayment) -> None:
        """``by`` asks for the re-issue; the runner's second caseworker approves it (R19 needs
        two people; a scenario names the first)."""
        view = await self._grant_view(index, a)
        failed = [r["instruction"]["instruction_id"] for r in (view or {}).get("instructions", [])
                  if r["outcome"] == "failed" and r["reissued_as"] is None]
        if not failed:
            self.notes.append(Note(index, a.type, a.ref, 0, "no_failed_instruction"))
            return
        path = f"/instructions/{failed[-1]}"
        asked = await self._call(index, a, "payments", "POST", f"{path}/reissue-requests",
                                 token=self._token(a.by, "caseworker"), at=a.at, body={},
                                 ref=a.ref)
        if asked.status_code < 400:
            await self._call(index, a, "payments", "POST", f"{path}/reissue-approvals",
                             token=self._token(SECOND_CASEWORKER, "caseworker"), at=a.at,
                             body={}, ref=a.ref)

    async def _do_approve_budget(self, index: int, a: m.ApproveBudget) -> None:
        view = await self._grant_view(index, a)
        budget = (view or {}).get("budget", {})
        if budget.get("status") != "pending_approval":
            self.notes.append(Note(index, a.type, a.ref, 0, "no_budget_pending"))
            return
        state = self._ref(a.ref)
        await self._call(index, a, "payments", "POST",
                         f"/grants/{state.application_id}/revised-budgets/{budget['version']}"
                         "/decision", token=self._token(a.by, "caseworker"), at=a.at,
                         body={"approve": a.approve}, ref=a.ref)

    async def _report(self, index: int, a: m.StatusReport | m.FinalReport, body: dict[str, Any]
                      ) -> None:
        await self._settle_for("reporting", always=True)
        state = self._ref(a.ref)
        cvr = self._applicant_cvr(a.ref)
        await self._call(index, a, "reporting", "POST", f"/grants/{state.application_id}/reports",
                         token=self._token(f"portal-user-{cvr}", "applicant", cvr), at=a.at,
                         body=body, ref=a.ref)

    async def _do_status_report(self, index: int, a: m.StatusReport) -> None:
        await self._report(index, a, {"kind": "status", "text": a.text})

    async def _do_final_report(self, index: int, a: m.FinalReport) -> None:
        statement = a.audit_statement
        await self._report(index, a, {"kind": "final", "accounts": a.accounts,
                                      "audit_statement": statement if not isinstance(
                                          statement, m.TypedAuditStatement)
                                      else statement.model_dump(exclude_none=True)})

    async def _do_audit_replay(self, index: int, a: m.AuditReplay) -> None:
        await self.settler.settle(checkpoints=True)
        self._last_target = None
        if self.audit is not None:
            self.audit_result = await self.audit()

    async def _do_withdraw_award(self, index: int, a: m.WithdrawAward) -> None:
        await self._settle_for("payments")
        state = self._ref(a.ref)
        await self._call(index, a, "payments", "POST",
                         f"/grants/{state.application_id}/withdrawal",
                         token=self._token(a.by, "caseworker"), at=a.at, body={}, ref=a.ref)

    # -- result ---------------------------------------------------------------------------------
    def _result(self) -> dict[str, Any]:
        from grants.scenario.result import build_result

        return build_result(self)

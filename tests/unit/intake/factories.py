"""Builders for intake domain tests, and a tiny in-memory desk that plays the adapter's part.

The desk does what a real adapter does around the pure domain (load state, decide, evolve, keep
the events) and checks two invariants after every step: the stored state survives a JSON round
trip, and folding all events from scratch rebuilds the same state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from contracts.assessment import PoolPublished
from contracts.base import Applicant, BudgetLine, IndicativeBudget
from contracts.intake import SubmitApplication
from contracts.pools import PoolDefinition
from contracts.register import Organisation
from contracts.registry import spec_for

from services.intake.domain import (
    REASON_CODES,
    ApplicationState,
    RegisterEntry,
    DecideItProblemException,
    Decision,
    ReportItProblem,
    application_id_for,
    decide_contact,
    decide_exception_decision,
    decide_submission,
    evolve,
    evolve_all,
)

POOL_ID = "familiehus-2022"
# 2022-09-28 12:00 in Copenhagen is summer time (+02:00).
DEADLINE = datetime(2022, 9, 28, 10, 0, tzinfo=UTC)
MS = timedelta(milliseconds=1)
CVR_AARHUS = "29189846"
CVR_KBH = "27998194"
CVR_GENTOFTE = "32432832"


def uid(n: int) -> UUID:
    return UUID(int=n)


APP = uid(1000)


def pool_definition(**overrides: Any) -> PoolDefinition:
    data: dict[str, Any] = {
        "pool_id": POOL_ID,
        "title": "Familiehuse",
        "programme": "familiehuse",
        "total_dkk": "126003000",
        "applicant_group": ["municipality"],
        "deadline_local": "2022-09-28T12:00:00",
        "project_period": {"start": "2023-01-01", "end": "2026-12-31"},
        "criteria": [{"id": 1, "name": "criterion 1"}],
    }
    data.update(overrides)
    return PoolDefinition.model_validate(data)


def published(definition: PoolDefinition | None = None, version: int = 1) -> PoolPublished:
    definition = definition or pool_definition()
    return PoolPublished(
        pool_id=definition.pool_id,
        version=version,
        content_hash="sha256:test",
        definition=definition,
        deadline=definition.deadline_instant(),
    )


def registered(cvr: str, municipality_code: str, name: str = "Kommune", kind: str = "municipality",
               revision: int = 1) -> RegisterEntry:
    """An entry of intake's register projection."""
    return RegisterEntry(Organisation(cvr=cvr, name=name, kind=kind,  # type: ignore[arg-type]
                                      municipality_code=municipality_code), revision)


def register_of(*entries: RegisterEntry) -> dict[str, RegisterEntry]:
    """The register the desk decides with: by default Aarhus, Copenhagen and Gentofte."""
    entries = entries or (registered(CVR_AARHUS, "751", "Aarhus Kommune", revision=3),
                          registered(CVR_KBH, "101", "Københavns Kommune", revision=1),
                          registered(CVR_GENTOFTE, "157", "Gentofte Kommune", revision=2))
    return {e.organisation.cvr: e for e in entries}


def pools_of(*pools: PoolPublished) -> dict[str, PoolPublished]:
    return {p.pool_id: p for p in (pools or (published(),))}


def salary(post: str = "project staff", rate: int = 50_000, quantity: int = 2_400) -> BudgetLine:
    return BudgetLine(
        post=post, category="salary", rate_oere=rate, quantity=quantity, amount_oere=rate * quantity
    )


def other(post: str = "materials and meetings", amount: int = 30_000_000) -> BudgetLine:
    return BudgetLine(post=post, category="other", amount_oere=amount)


def budget(*lines: BudgetLine, total: int | None = None) -> IndicativeBudget:
    lines = lines or (salary(), other())
    return IndicativeBudget(
        lines=list(lines), total_oere=sum(line.amount_oere for line in lines) if total is None else total
    )


def applicant(cvr: str = CVR_AARHUS, municipality_code: str = "751") -> Applicant:
    return Applicant(cvr=cvr, municipality_code=municipality_code, name="Aarhus Kommune")


def submission(n: int = 1, **overrides: Any) -> SubmitApplication:
    """Submission number ``n`` of the default application (submission id ``uid(n)``)."""
    data: dict[str, Any] = {
        "submission_id": uid(n),
        "application_id": APP,
        "pool_id": POOL_ID,
        "applicant": applicant(),
        "purpose": "establish a family house",
        "target_group": "vulnerable parents",
        "budget": budget(),
    }
    data.update(overrides)
    return SubmitApplication(**data)


def applicant_claims(cvr: str = CVR_AARHUS, roles: Any = ("applicant",)) -> dict[str, Any]:
    return {"sub": "employee-1", "cvr": cvr, "roles": list(roles) if isinstance(roles, tuple) else roles}


def caseworker_claims(sub: str = "caseworker-1", cvr: str | None = "11111111") -> dict[str, Any]:
    claims: dict[str, Any] = {"sub": sub, "roles": ["caseworker"]}
    if cvr is not None:
        claims["cvr"] = cvr
    return claims


def contact(
    contacted_at: datetime,
    *,
    n: int = 500,
    documentation: bool = True,
    attempted: bool = True,
    screenshot_at: datetime | None = DEADLINE - timedelta(minutes=2),
    application_id: UUID = APP,
    cvr: str = CVR_AARHUS,
    pool_id: str = POOL_ID,
    evidence: tuple[str, ...] = ("screenshot-1.png",),
) -> ReportItProblem:
    return ReportItProblem(
        exception_id=uid(n),
        application_id=application_id,
        pool_id=pool_id,
        applicant_cvr=cvr,
        documentation=documentation,
        attempted_before_deadline=attempted,
        screenshot_at=screenshot_at,
        evidence_refs=list(evidence),
        contacted_at=contacted_at,
    )


def decision(approved: bool, *, n: int = 500, reasons: tuple[str, ...] = (), evidence: tuple[str, ...] = ()) -> DecideItProblemException:
    return DecideItProblemException(
        application_id=APP, exception_id=uid(n), approved=approved,
        reasons=list(reasons), evidence_refs=list(evidence),
    )


def _codes_of(event: Any) -> list[str]:
    reasons = getattr(event, "reasons", [])
    return [r if isinstance(r, str) else r.code for r in reasons]


@dataclass
class Desk:
    """An in-memory adapter around the pure domain, for flow tests."""

    pools: dict[str, PoolPublished] = field(default_factory=pools_of)
    register: dict[str, RegisterEntry] = field(default_factory=register_of)
    states: dict[UUID, ApplicationState] = field(default_factory=dict)
    log: dict[UUID, list[Any]] = field(default_factory=dict)

    def state(self, application_id: UUID = APP) -> ApplicationState:
        return self.states.get(application_id) or ApplicationState(application_id=application_id)

    def _apply(self, application_id: UUID, decided: Decision) -> Decision:
        state = self.state(application_id)
        for event in decided.events:
            spec_for(event)  # every event is a registered contract
            assert set(_codes_of(event)) <= set(REASON_CODES), _codes_of(event)
            type(event).model_validate(event.model_dump(mode="json"))
            state = evolve(state, event)
        self.log.setdefault(application_id, []).extend(decided.events)
        assert ApplicationState.model_validate(state.model_dump(mode="json")) == state
        rebuilt = evolve_all(ApplicationState(application_id=application_id), self.log[application_id])
        assert rebuilt == state
        self.states[application_id] = state
        return decided

    def submit(self, command: SubmitApplication, at: datetime, claims: dict[str, Any] | None = None) -> Decision:
        app = application_id_for(command)
        claims = applicant_claims(command.applicant.cvr) if claims is None else claims
        return self._apply(app, decide_submission(self.state(app), command, at, claims=claims, pools=self.pools,
                                                    register=self.register))

    def contact(self, command: ReportItProblem, at: datetime | None = None, claims: dict[str, Any] | None = None) -> Decision:
        claims = applicant_claims(command.applicant_cvr) if claims is None else claims
        at = command.contacted_at if at is None else at
        state = self.state(command.application_id)
        return self._apply(command.application_id, decide_contact(state, command, at, claims=claims, pools=self.pools))

    def decide(self, command: DecideItProblemException, at: datetime, claims: dict[str, Any] | None = None) -> Decision:
        claims = caseworker_claims() if claims is None else claims
        state = self.state(command.application_id)
        return self._apply(
            command.application_id,
            decide_exception_decision(state, command, at, claims=claims, pools=self.pools),
        )

    def events(self, application_id: UUID = APP) -> list[str]:
        return [type(e).__name__ for e in self.log.get(application_id, [])]


def names(decided: Decision) -> list[str]:
    return [type(e).__name__ for e in decided.events]

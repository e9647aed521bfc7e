"""The scenario format v1, as a strict model of its structure.

Keys and JSON types are checked here, so a malformed scenario is refused before anything runs,
with the path of the bad key. Values are not judged here: a submission with an invalid CVR or a
budget that does not add up is a legitimate scenario step, and intake must refuse it with its
reasons. The pool is the exception: it is configuration, validated by ``PoolDefinition``.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from pydantic import ValidationError, model_validator

from contracts.pools import PoolDefinition
from contracts.register import Organisation


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScenarioApplicant(_Strict):
    """What the submission claims about its applicant; checked against the register (v1.1)."""

    cvr: StrictStr
    municipality_code: StrictStr
    name: StrictStr
    kind: StrictStr | None = None  # optional extension: municipality (default), …
    region_code: StrictStr | None = None  # optional extension: a typed region (a claim too)


class ScenarioBudgetLine(_Strict):
    post: StrictStr
    category: StrictStr
    rate_oere: StrictInt | None = None
    quantity: StrictInt | None = None
    amount_oere: StrictInt


class ScenarioBudget(_Strict):
    lines: list[ScenarioBudgetLine]
    total_oere: StrictInt


class Submitter(_Strict):
    cvr: StrictStr


class _Action(_Strict):
    at: AwareDatetime


class Submit(_Action):
    type: Literal["submit"]
    ref: StrictStr
    applicant: ScenarioApplicant
    purpose: StrictStr
    target_group: StrictStr
    budget: ScenarioBudget
    submitter: Submitter | None = None
    # optional extensions (R3 texts); absent in the v1 examples
    description: StrictStr | None = None
    organisation: StrictStr | None = None
    anchoring_plan: StrictStr | None = None


class ItProblemContact(_Action):
    type: Literal["it_problem_contact"]
    ref: StrictStr
    documentation: StrictBool
    attempted_before_deadline: StrictBool
    screenshot_at: AwareDatetime | None


class ExceptionDecision(_Action):
    type: Literal["exception_decision"]
    ref: StrictStr
    approve: StrictBool
    by: StrictStr


class Score(_Action):
    type: Literal["score"]
    ref: StrictStr
    assessor: StrictStr
    scores: dict[str, StrictInt]
    justification: StrictStr
    conflict_of_interest: StrictBool = False


class Allocate(_Action):
    type: Literal["allocate"]
    approver: StrictStr


class AcceptAward(_Action):
    type: Literal["accept_award"]
    ref: StrictStr


class RevisedBudget(_Action):
    type: Literal["revised_budget"]
    ref: StrictStr
    months: dict[str, dict[str, StrictInt]]


class RunPayments(_Action):
    type: Literal["run_payments"]
    through: date


class FinanceResult(_Action):
    type: Literal["finance_result"]
    ref: StrictStr
    executed: StrictBool
    amount_oere: StrictInt | None = None  # v1.1: what finance paid on the latest instruction


class ReissuePayment(_Action):
    """v1.1: a caseworker re-issues the latest failed instruction of ``ref``."""

    type: Literal["reissue_payment"]
    ref: StrictStr
    by: StrictStr


class ApproveBudget(_Action):
    """v1.1: a caseworker decides the latest revised budget of ``ref`` that awaits approval."""

    type: Literal["approve_budget"]
    ref: StrictStr
    by: StrictStr
    approve: StrictBool


class StatusReport(_Action):
    type: Literal["status_report"]
    ref: StrictStr
    text: StrictStr


class TypedAuditStatement(_Strict):
    """v1.1: a statement with its type (R21); a bare string is v1's reference, which declares
    the statement the award's audit level requires."""

    type: Literal["reviewer_statement", "auditor_statement"]
    reference: StrictStr
    performance_audit: StrictStr | None = None


class FinalReport(_Action):
    type: Literal["final_report"]
    ref: StrictStr
    accounts: dict[str, StrictInt]
    audit_statement: StrictStr | TypedAuditStatement | None


class AuditReplay(_Action):
    type: Literal["audit_replay"]


class WithdrawAward(_Action):
    """v1.1: a caseworker withdraws the award of ``ref`` (e.g. the grantee declines), freeing its
    money in its sub-pool."""

    type: Literal["withdraw_award"]
    ref: StrictStr
    by: StrictStr


Action = Annotated[
    Submit | ItProblemContact | ExceptionDecision | Score | Allocate | AcceptAward
    | RevisedBudget | RunPayments | FinanceResult | StatusReport | FinalReport | AuditReplay
    | WithdrawAward | ReissuePayment | ApproveBudget,
    Field(discriminator="type"),
]


class PriorAward(_Strict):
    programme: StrictStr
    municipality_code: StrictStr
    pool_id: StrictStr
    cvr: StrictStr | None = None  # v1.1: the earlier grantee; without it the municipality's own


class ScenarioOrganisation(_Strict):
    """An entry of the register the round runs with (v1.1). Its values are judged by the
    register's rules when it is loaded: an entry the register would refuse is left out (the
    runner notes it, naming the field), and intake then refuses that applicant's submissions
    for what is wrong with them (``cvr_invalid``, ``municipality_unknown``,
    ``applicant_unknown``), as it would any."""

    cvr: StrictStr
    name: StrictStr
    kind: StrictStr
    municipality_code: StrictStr
    region_code: StrictStr | None = None

    def problems(self) -> list[str]:
        """What the register would refuse in this entry (``field: message``); ``[]``: valid."""
        try:
            Organisation.model_validate(self.model_dump(exclude_none=True))
        except ValidationError as exc:
            return [".".join(map(str, e["loc"])) + (": " if e["loc"] else "")
                    + e["msg"].removeprefix("Value error, ") for e in exc.errors()]
        return []


class Scenario(_Strict):
    format: Literal["grants-scenario/1"]
    name: StrictStr = ""
    pool: PoolDefinition
    organisations: list[ScenarioOrganisation] | None = None
    prior_awards: list[PriorAward] = []
    actions: list[Action]

    @model_validator(mode="after")
    def _one_entry_per_cvr(self) -> Scenario:
        seen: dict[str, int] = {}
        for i, organisation in enumerate(self.organisations or []):
            if organisation.cvr in seen:
                raise ValueError(f"organisations.{i}.cvr: {organisation.cvr} is also "
                                 f"organisations.{seen[organisation.cvr]}")
            seen[organisation.cvr] = i
        return self

    @model_validator(mode="after")
    def _time_never_goes_backwards(self) -> Scenario:
        for i in range(1, len(self.actions)):
            if self.actions[i].at < self.actions[i - 1].at:
                raise ValueError(
                    f"actions.{i}.at goes backwards ({self.actions[i].at.isoformat()} is before "
                    f"{self.actions[i - 1].at.isoformat()})"
                )
        return self

    @model_validator(mode="after")
    def _every_ref_is_submitted(self) -> Scenario:
        """A ref no ``submit`` names is almost always a typo: its scores, awards and payments
        would all be refused one by one while the run "succeeds". Refused before anything runs;
        only an IT-problem contact (and its decision) may name an applicant who never managed
        to submit."""
        submitted = {a.ref for a in self.actions if isinstance(a, Submit)}
        for i, a in enumerate(self.actions):
            ref = getattr(a, "ref", None)
            if ref is not None and ref not in submitted and a.type not in _NO_SUBMIT_NEEDED:
                raise ValueError(
                    f"actions.{i}.ref: {ref!r} is never submitted (no `submit` action has this "
                    "ref; only it_problem_contact and exception_decision may name one)")
        return self

    def refs(self) -> list[str]:
        seen: dict[str, None] = {}
        for a in self.actions:
            ref = getattr(a, "ref", None)
            if ref is not None:
                seen.setdefault(ref, None)
        return list(seen)

    def register(self) -> list[ScenarioOrganisation]:
        """The register the round runs with: ``organisations`` when given; else each applicant
        as its CVR first appears in a submission (its typed municipality and kind, default
        municipality), leaving out entries the register would refuse (an invalid CVR, an unknown
        municipality: intake refuses those submissions for that reason anyway)."""
        if self.organisations is not None:
            return [o for o in self.organisations if not o.problems()]
        first: dict[str, ScenarioOrganisation] = {}
        for action in self.actions:
            if isinstance(action, Submit) and action.applicant.cvr not in first:
                a = action.applicant
                first[a.cvr] = ScenarioOrganisation(
                    cvr=a.cvr, name=a.name, kind=a.kind or "municipality",
                    municipality_code=a.municipality_code, region_code=a.region_code)
        return [o for o in first.values() if not o.problems()]

    def grantee_of(self, prior: PriorAward) -> str | None:
        """The CVR a prior award names: its ``cvr``, else the municipality's own entry in the
        register the round runs with (``None``: none there; the municipality is named)."""
        if prior.cvr is not None:
            return prior.cvr
        own = [o.cvr for o in self.register()
               if o.kind == "municipality" and o.municipality_code == prior.municipality_code]
        return own[0] if len(own) == 1 else None

    def first_submit(self, ref: str) -> Submit | None:
        return next((a for a in self.actions if isinstance(a, Submit) and a.ref == ref), None)


_NO_SUBMIT_NEEDED = {"it_problem_contact", "exception_decision"}


class ScenarioError(Exception):
    """A scenario that cannot be run, with the paths of its bad keys."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _path(loc: tuple[Any, ...]) -> str:
    """``actions.3.submit.applicant.cvr`` → ``actions.3.applicant.cvr`` (drop the union tag)."""
    parts = [str(p) for p in loc]
    if len(parts) > 2 and parts[0] == "actions" and parts[2] in _ACTION_TYPES:
        del parts[2]
    return ".".join(parts)


_ACTION_TYPES = {
    "submit", "it_problem_contact", "exception_decision", "score", "allocate", "accept_award",
    "revised_budget", "run_payments", "finance_result", "status_report", "final_report",
    "audit_replay", "withdraw_award", "reissue_payment", "approve_budget",
}


def parse_scenario(data: Any) -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = _path(tuple(err["loc"]))
            message = err["msg"].removeprefix("Value error, ")
            # A whole-scenario check names its own path (``actions.4.ref: …``).
            problems.append(f"{where}: {message}" if where else message)
        raise ScenarioError(problems) from None


def load_scenario(path: Path) -> Scenario:
    """Read and check a scenario file. A file that cannot be read (missing, a directory, not
    UTF-8) raises the ``OSError`` / ``UnicodeDecodeError`` as it is: that is not a malformed
    scenario, and the CLI says so differently (``grants.cli_errors.file_error``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ScenarioError([f"{path}: not JSON ({exc})"]) from None
    return parse_scenario(data)

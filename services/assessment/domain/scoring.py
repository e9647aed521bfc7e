"""Scoring on the pool's criteria (R11): assessors, recusals, and the aggregate score.

An assessor scores *every* criterion of the pool 0–5 with a written justification; the command is
refused (no event) when a criterion is missing or unknown, a score is out of range, or the
justification is empty. An assessor who declares a conflict of interest is recorded as recused
(``ApplicationScored`` with ``recused=True`` and no scores): any scores they gave before stop
counting and they cannot score that application again. A rescore is a new event; only each
assessor's latest scores count, the earlier ones stay in the history.

Aggregate (the application's score):
    mean, over the non-recused assessors who scored, of the SUM of that assessor's latest
    criterion scores — e.g. assessors with totals 22 and 21 give 21.5.
It is computed exactly (a ``Fraction``) and ranking compares the exact value; events carry it as
a float rounded to 2 decimals for people to read.

Minimum requirements: for each criterion marked ``minimum_requirement``, the mean of that
criterion over the same assessors must be ≥ the pool's ``minimum_requirement_threshold``
(default 1), else the application is rejected ``minimum_requirement_not_met``. A criterion an
assessor's latest scores do not contain (possible only if the pool's criteria changed after they
scored) counts as 0 for them.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated
from uuid import UUID

from pydantic import Field, StrictInt

from contracts.assessment import ApplicationScored
from contracts.pools import PoolDefinition
from contracts.refusal import Refusal
from services.assessment.domain.state import ApplicationFile, PoolRound, State

RECUSAL_JUSTIFICATION = "conflict of interest declared"


class ScoreApplication(State):
    """Command: an assessor scores an application, or recuses (``conflict_of_interest``)."""

    application_id: UUID
    assessor: Annotated[str, Field(min_length=1, max_length=128)]
    scores: dict[str | int, StrictInt] = {}
    justification: str = ""
    conflict_of_interest: bool = False


def recused_assessors(file: ApplicationFile) -> set[str]:
    return {s.assessor for s in file.scorings if s.recused}


def participants(file: ApplicationFile) -> set[str]:
    """Everyone who scored or recused: they may not approve this application (R13)."""
    return {s.assessor for s in file.scorings}


def latest_scores(file: ApplicationFile) -> dict[str, dict[str, int]]:
    """Assessor → their latest criterion scores, recused assessors left out."""
    latest: dict[str, dict[str, int]] = {}
    for event in file.scorings:
        if not event.recused:
            latest[event.assessor] = dict(event.scores)
    for assessor in recused_assessors(file):
        latest.pop(assessor, None)
    return latest


def exact_score(file: ApplicationFile) -> Fraction | None:
    """Mean of the assessors' totals; ``None`` when nobody (non-recused) scored."""
    latest = latest_scores(file)
    if not latest:
        return None
    return Fraction(sum(sum(s.values()) for s in latest.values()), len(latest))


def shown(score: Fraction | None) -> float | None:
    return None if score is None else round(float(score), 2)


def minimum_requirements_met(pool: PoolDefinition, file: ApplicationFile) -> bool:
    latest = latest_scores(file)
    if not latest:
        return False
    for criterion in pool.criteria:
        if criterion.minimum_requirement:
            key = str(criterion.id)
            mean = Fraction(sum(s.get(key, 0) for s in latest.values()), len(latest))
            if mean < pool.minimum_requirement_threshold:
                return False
    return True


def _criterion_key(key: str | int) -> str | None:
    """``1``, ``"1"`` and ``" 01 "`` all name criterion 1; anything else names none."""
    text = str(key).strip()
    return str(int(text)) if text.isdigit() else None


def _checked_scores(pool: PoolDefinition, given: dict[str | int, int]) -> dict[str, int]:
    known = {str(c.id) for c in pool.criteria}
    scores: dict[str, int] = {}
    unknown = []
    for key, value in given.items():
        name = _criterion_key(key)
        if name is None or name not in known:
            unknown.append(str(key))
        else:
            scores[name] = value
    if unknown:
        raise Refusal("criterion_unknown",
                      f"the pool has no criterion {', '.join(sorted(unknown))}", "invalid")
    missing = sorted(known - scores.keys(), key=int)
    if missing:
        raise Refusal("criteria_incomplete",
                      f"every criterion must be scored; missing {', '.join(missing)}", "invalid")
    out_of_range = sorted((k for k, v in scores.items() if not 0 <= v <= 5), key=int)
    if out_of_range:
        raise Refusal("score_out_of_range",
                      f"scores are 0–5; criterion {', '.join(out_of_range)} is not", "invalid")
    return dict(sorted(scores.items(), key=lambda kv: int(kv[0])))


def score_application(state: PoolRound, command: ScoreApplication) -> ApplicationScored:
    """Decide a score or a recusal; refuses with a :class:`Refusal` (no event)."""
    file = state.file(command.application_id)
    if file.accepted is None:
        raise Refusal("application_not_accepted",
                      f"application {command.application_id} has no accepted version", "conflict")
    if file.decision is not None:
        raise Refusal("application_decided",
                      f"application {command.application_id} is already decided", "conflict")
    if command.assessor in recused_assessors(file):
        raise Refusal(
            "assessor_recused",
            f"{command.assessor} declared a conflict of interest on {command.application_id}",
            "conflict")
    justification = command.justification.strip()
    if command.conflict_of_interest:
        event = ApplicationScored(
            application_id=command.application_id, assessor=command.assessor, scores={},
            justification=justification or RECUSAL_JUSTIFICATION, recused=True)
    else:
        scores = _checked_scores(state.definition, command.scores)
        if not justification:
            raise Refusal("justification_missing",
                          "a score needs a written justification", "invalid")
        event = ApplicationScored(
            application_id=command.application_id, assessor=command.assessor, scores=scores,
            justification=justification)
    after = file.model_copy(update={"scorings": (*file.scorings, event)})
    return event.model_copy(update={"aggregate_score": shown(exact_score(after))})

"""State: JSON-serialisable, rebuilt from events, and strict about what it evolves on."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from pydantic import ValidationError

from contracts.assessment import PriorAwardImported
from contracts.intake import ApplicationAccepted

from services.intake.domain import ApplicationState, evolve, evolve_all, receipt_for

from tests.unit.intake.factories import APP, DEADLINE, Desk, contact, decision, submission, uid


def full_desk() -> Desk:
    desk = Desk()
    desk.submit(submission(1), DEADLINE - timedelta(hours=1))
    desk.submit(submission(2, budget=submission().budget.model_copy(update={"total_oere": 1})), DEADLINE)
    desk.submit(submission(3), DEADLINE + timedelta(minutes=1))
    desk.contact(contact(DEADLINE + timedelta(hours=1)))
    desk.decide(decision(True), DEADLINE + timedelta(hours=2))
    return desk


def test_state_is_plain_json_and_round_trips() -> None:
    state = full_desk().state()
    text = json.dumps(state.model_dump(mode="json"))
    assert ApplicationState.model_validate(json.loads(text)) == state


def test_state_is_frozen() -> None:
    state = ApplicationState(application_id=APP)
    with pytest.raises(ValidationError, match="frozen"):
        state.pool_id = "x"  # type: ignore[misc]


def test_state_is_rebuilt_from_its_events() -> None:
    desk = full_desk()
    rebuilt = evolve_all(ApplicationState(application_id=APP), desk.log[APP])
    assert rebuilt == desk.state()
    assert receipt_for(rebuilt, uid(3)).status == "exception_granted"  # type: ignore[union-attr]


def test_events_survive_their_json_too() -> None:
    desk = full_desk()
    events = [type(e).model_validate_json(e.model_dump_json()) for e in desk.log[APP]]
    assert evolve_all(ApplicationState(application_id=APP), events) == desk.state()


def test_events_of_another_application_are_refused() -> None:
    event = ApplicationAccepted(
        application_id=uid(9), submission_id=uid(1), version=1, pool_id="p", basis="on_time"
    )
    with pytest.raises(ValueError):
        evolve(ApplicationState(application_id=APP), event)


def test_foreign_events_are_refused() -> None:
    event = PriorAwardImported(programme="p", municipality_code="101", pool_id="p")
    with pytest.raises(TypeError):
        evolve(ApplicationState(application_id=APP), event)  # type: ignore[arg-type]


def test_unknown_submission_has_no_receipt() -> None:
    assert receipt_for(full_desk().state(), uid(77)) is None

"""The fold keeps an instruction once (``AppFacts.instructions``): who owns an instruction id
(``LogFacts.instruction_app``, read by reporting's timelines) and what finance reported paid
(``executed_oere``) come from it, in whatever order the topics are read."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest

from audit.replay import Replay
from contracts import examples as ex
from contracts.base import Actor
from contracts.registry import envelope_of

APP_A, APP_B = uuid.UUID(int=0xA), uuid.UUID(int=0xB)
INS = uuid.UUID(int=0x1)


def _event(payload: Any, n: int) -> Any:
    return envelope_of(payload, event_id=uuid.UUID(int=1000 + n), occurred_at=ex.T,
                       correlation_id="t", causation_id="t", actor=Actor(id="t", role="system"),
                       aggregate_id=str(getattr(payload, "application_id", INS)), sequence=1)


def _events() -> list[Any]:
    by_type = {type(p).__name__: p for p in ex.EXAMPLE_PAYLOADS}
    instructed, executed = by_type["PaymentInstructed"], by_type["PaymentExecuted"]
    return [
        _event(instructed.model_copy(update={"application_id": APP_A, "instruction_id": INS,
                                             "amount_oere": 500}), 1),
        _event(instructed.model_copy(update={"application_id": APP_B, "instruction_id": INS,
                                             "amount_oere": 700}), 2),
        _event(executed.model_copy(update={"instruction_id": INS, "amount_oere": 400}), 3),
        _event(executed.model_copy(update={"instruction_id": INS, "amount_oere": 700}), 4),
    ]


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_owner_and_first_execution_whatever_the_order(order: tuple[int, ...]) -> None:
    events = _events()
    fold = Replay()
    for i in order:
        fold.apply_envelope(events[i])
    facts = fold.facts
    # the latest PaymentInstructed applied names the owner and the amount, as a dict did
    last = max((i for i in order if i < 2), key=order.index)
    assert facts.instruction_app.get(INS.int) == ((APP_A.int, 500), (APP_B.int, 700))[last]
    assert facts.instruction_app.get(uuid.UUID(int=0x2).int) is None
    assert INS.int in facts.instruction_app and len(facts.instruction_app) == 1
    first_report = min((i for i in order if i >= 2), key=order.index)
    assert facts.executed_oere == {INS.int: (400, 700)[first_report - 2]}
    assert fold.result().totals.paid_oere == 2 * (400, 700)[first_report - 2]

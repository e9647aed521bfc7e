"""``contracts.registry.envelope_of``: the one way to wrap a payload in its envelope. The event
type and schema version come from the registry, the class is the pinned envelope the decoder
uses, and the bytes it makes decode back to the same envelope."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from contracts.base import Actor, Contract
from contracts.examples import EXAMPLE_PAYLOADS
from contracts.registry import EVENTS, UnknownEventType, decode, encode, envelope_of, spec_for

BY_TYPE = {spec_for(p).event_type: p for p in EXAMPLE_PAYLOADS}

WHO = Actor(id="svc-test", role="system")
WHEN = datetime(2022, 9, 28, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("event_type", sorted(EVENTS))
def test_the_registry_names_the_type_and_version(event_type: str) -> None:
    payload = BY_TYPE[event_type]
    env = envelope_of(payload, event_id=uuid.uuid4(), occurred_at=WHEN, correlation_id="c-1",
                      actor=WHO, aggregate_id="agg-1", sequence=3, causation_id="cause-1")
    spec = EVENTS[event_type]
    assert (env.event_type, env.schema_version) == (event_type, spec.schema_version)
    assert type(env) is spec.envelope  # the pinned class, built once, the decoder's
    assert decode(encode(env), event_type) == env


def test_an_unregistered_payload_is_refused() -> None:
    class Stray(Contract):
        n: int

    with pytest.raises(UnknownEventType, match="Stray"):
        envelope_of(Stray(n=1), event_id=uuid.uuid4(), occurred_at=WHEN, correlation_id="c",
                    actor=WHO, aggregate_id="a", sequence=1)

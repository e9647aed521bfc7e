"""The envelope every event travels in, and the identity/ordering fields it carries."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import Actor, Contract, UtcDatetime

P = TypeVar("P", bound=Contract)

SIMULATED_TIME_HEADER = "x-grants-simulated-time"
"""Kafka header / HTTP header (``X-Grants-Simulated-Time``) with an ISO instant.

Only a service started in simulation mode reads it; a normally started service ignores it and
takes time from its own clock.
"""


class Envelope(BaseModel, Generic[P]):
    """A published event: identity, causality, ordering and the typed payload.

    - ``event_id`` is the identity consumers deduplicate on (offsets are not identity).
    - ``sequence`` counts events per ``aggregate_id`` from 1, per producing service.
    - ``correlation_id`` ties together everything one user action caused; ``causation_id`` is the
      event or command that directly caused this one.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    event_type: Annotated[str, Field(min_length=1)]
    schema_version: Annotated[int, Field(ge=1)]
    occurred_at: UtcDatetime
    correlation_id: Annotated[str, Field(min_length=1, max_length=128)]
    causation_id: Annotated[str, Field(max_length=128)] | None = None
    actor: Actor
    aggregate_id: Annotated[str, Field(min_length=1, max_length=128)]
    sequence: Annotated[int, Field(ge=1)]
    payload: P

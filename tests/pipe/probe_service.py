"""A minimal service built on servicekit, for the pipe tests (run in-process or as a process).

It consumes ``PriorAwardImported`` events and records one row per effect in ``effects``; a second
effect for the same event would be a duplicate the guarantees must prevent.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg

from contracts import topics
from contracts.assessment import PriorAwardImported
from servicekit.consumer import Incoming
from servicekit.outbox import Emitter
from servicekit.service import ServiceRuntime
from servicekit.settings import ServiceSettings

MIGRATIONS = Path(__file__).parent / "probe_migrations"


async def record_effect(conn: asyncpg.Connection, item: Incoming, _: Emitter) -> None:
    payload = item.envelope.payload
    if not isinstance(payload, PriorAwardImported):
        return
    if payload.pool_id == "poison-in-handler":
        raise ValueError("this event breaks the handler")
    await conn.execute(
        "INSERT INTO effects (event_id, correlation_id, municipality_code) VALUES ($1, $2, $3)",
        item.envelope.event_id, item.envelope.correlation_id, payload.municipality_code,
    )


def build(settings: ServiceSettings | None = None) -> tuple[ServiceRuntime, object]:
    runtime = ServiceRuntime("probe", migrations=MIGRATIONS, settings=settings)
    runtime.consume(topics.ASSESSMENT_POOLS.name, handler=record_effect)
    return runtime, runtime.http_app(title="probe")


if __name__ == "__main__":
    rt, app = build()
    rt.run(app)  # type: ignore[arg-type]

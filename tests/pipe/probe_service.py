"""A minimal service built on servicekit, for the pipe tests (run in-process or as a process).

It consumes ``PriorAwardImported`` events and records one row per effect in ``effects``; a second
effect for the same event would be a duplicate the guarantees must prevent.

Marked events (by ``pool_id``): ``poison-in-handler`` always raises (a poison message the decoder
accepts); ``slow-handler`` sleeps ``PROBE_SLOW_S`` seconds (default 4) inside its transaction
before the effect (a shutdown arriving mid-handler). As a process it consumes ``PROBE_TOPIC``
(default: the assessment pools topic).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts import topics
from contracts.assessment import PriorAwardImported
from servicekit.consumer import Incoming
from servicekit.outbox import Emitter
from servicekit.service import ServiceRuntime
from servicekit.settings import ServiceSettings

MIGRATIONS = Path(__file__).parent / "probe_migrations"
ROOT = Path(__file__).resolve().parents[2]


async def record_effect(conn: asyncpg.Connection, item: Incoming, _: Emitter) -> None:
    payload = item.envelope.payload
    if not isinstance(payload, PriorAwardImported):
        return
    if payload.pool_id == "poison-in-handler":
        raise ValueError("this event breaks the handler")
    if payload.pool_id == "slow-handler":
        # A statement the shutdown test can find in pg_stat_activity: this session, idle in its
        # transaction, is the slow handler (not another record's transaction between statements).
        await conn.execute("SELECT 'slow-handler-sleeping'")
        await asyncio.sleep(float(os.environ.get("PROBE_SLOW_S", "4")))
    await conn.execute(
        "INSERT INTO effects (event_id, correlation_id, municipality_code) VALUES ($1, $2, $3)",
        item.envelope.event_id, item.envelope.correlation_id, payload.municipality_code,
    )


def build(settings: ServiceSettings | None = None,
          topic: str = topics.ASSESSMENT_POOLS.name) -> tuple[ServiceRuntime, object]:
    runtime = ServiceRuntime("probe", migrations=MIGRATIONS, settings=settings)
    runtime.consume(topic, handler=record_effect)
    return runtime, runtime.http_app(title="probe")


# -- the probe as its own OS process, and what its consumer group committed (reliability tests) ---

def spawn(kafka: str, db_url: str, name: str, port: int, *, topic: str | None = None,
          log_file: Path | None = None, env: dict[str, str] | None = None,
          **settings: str | int) -> subprocess.Popen[bytes]:
    """``python -m tests.pipe.probe_service`` as service ``name`` (consumer group
    ``grants-<name>``) on database ``db_url``, consuming ``topic``; ``settings`` become
    ``GRANTS_<KEY>`` variables, ``env`` is added as is (e.g. ``PROBE_SLOW_S``); stdout and
    stderr go to ``log_file`` (or nowhere)."""
    server, _, database = db_url.rpartition("/")
    variables = {
        **os.environ, **(env or {}), "GRANTS_SERVICE_NAME": name, "GRANTS_KAFKA_BOOTSTRAP": kafka,
        "GRANTS_PG_URL": server, "GRANTS_DATABASE": database, "GRANTS_HTTP_PORT": str(port),
        "PYTHONPATH": str(ROOT), "PROBE_TOPIC": topic or "",
        **{f"GRANTS_{k.upper()}": str(v) for k, v in settings.items()}}
    out = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115
    try:
        return subprocess.Popen([sys.executable, "-m", "tests.pipe.probe_service"], cwd=ROOT,
                                env=variables, stdout=out, stderr=subprocess.STDOUT)
    finally:
        if log_file:
            out.close()  # type: ignore[union-attr]


async def committed(kafka: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    """The offsets ``group`` committed on ``topic`` (partition → next offset; 0 when none), read
    without joining the group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        found = {}
        for p in range(partitions):
            offset = await consumer.committed(TopicPartition(topic, p))
            found[p] = offset if offset is not None and offset >= 0 else 0
        return found
    finally:
        await consumer.stop()


if __name__ == "__main__":
    # Named by GRANTS_SERVICE_NAME when given (its consumer group is then grants-<name>).
    named = ServiceSettings() if os.environ.get("GRANTS_SERVICE_NAME") else None
    rt, app = build(named, topic=os.environ.get("PROBE_TOPIC") or topics.ASSESSMENT_POOLS.name)
    rt.run(app)  # type: ignore[arg-type]

"""The organisation register's service layer: plain command handlers (``handler(uow, command)``,
run by ``runtime.handle``) for a change of one entry and the load of a register file.

Every change is one transaction: lock the register's revision, read the entries concerned, decide
with :mod:`services.assessment.domain.register`, record, emit (aggregate ``register:organisations``,
so the register's events keep their order on the one-partition pools topic). No rule lives here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts.register import OrganisationRecorded, RegisterSourceLoaded
from servicekit.outbox import Cause
from servicekit.service import UnitOfWork
from services.assessment.domain.register import RegisterEntry, decide_change, decide_load
from services.assessment.domain.register_files import RegisterFormat, parse_register_file
from services.assessment.register_store import RegisterStore

REGISTER_AGGREGATE = "register:organisations"


@dataclass(frozen=True)
class LoadSource:
    """One register file as ``source``'s next version."""

    source: str
    text: str
    fmt: RegisterFormat
    cause: Cause
    changed_by: str


async def load_source(uow: UnitOfWork, cmd: LoadSource) -> dict[str, Any]:
    """Load one register file as its source's next version (nothing when unchanged)."""
    parsed = parse_register_file(cmd.text, cmd.fmt, f"register source {cmd.source}")
    store = RegisterStore(uow.conn)
    revision = await store.lock_revision()
    in_force = await store.source(cmd.source)
    current = await store.entries(o.cvr for o in parsed.organisations)
    events = decide_load(cmd.source, parsed, in_force, current, revision, cmd.changed_by)
    recorded = [e for e in events if isinstance(e, OrganisationRecorded)]
    await store.record(recorded)
    for event in events:
        uow.emit(event, aggregate_id=REGISTER_AGGREGATE, cause=cmd.cause)
        if isinstance(event, RegisterSourceLoaded):
            await store.save_source(event)
    version = events[-1].source_version if events else in_force.version  # type: ignore[union-attr]  # no events: the source in force exists
    return {"source": cmd.source, "version": version, "loaded": bool(events),
            "rows": len(parsed.organisations), "skipped": parsed.skipped,
            "changed": len(recorded), "revision": recorded[-1].revision if recorded else revision}


@dataclass(frozen=True)
class ChangeOrganisation:
    """A caseworker's create or change of one entry: ``raw`` is the body as sent (the domain
    names every bad field)."""

    raw: dict[str, Any]
    cvr: str | None  # the entry it names (domain.register.changed_cvr)
    changed_by: str
    cause: Cause


async def change_organisation(uow: UnitOfWork, cmd: ChangeOrganisation
                              ) -> tuple[OrganisationRecorded | None, RegisterEntry | None]:
    """The recorded change (``None`` when the entry already says so) and the entry before it."""
    store = RegisterStore(uow.conn)
    revision = await store.lock_revision()
    current = await store.entry(cmd.cvr) if cmd.cvr else None
    event = decide_change(current, cmd.raw, revision, cmd.changed_by)
    if event is not None:
        await store.record([event])
        uow.emit(event, aggregate_id=REGISTER_AGGREGATE, cause=cmd.cause)
    return event, current

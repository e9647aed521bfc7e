"""Thin adapters of the organisation register: HTTP routes and the start-up load of files.

Every change is one transaction: lock the register's revision, read the entries concerned, decide
with :mod:`services.assessment.domain.register`, record, emit (aggregate ``register:organisations``,
so the register's events keep their order on the one-partition pools topic).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import StringConstraints

from contracts.base import Actor
from contracts.register import Organisation, OrganisationRecorded, RegisterSourceLoaded
from contracts.refusal import Refusal
from servicekit import logging
from servicekit.http import cause_of_request
from servicekit.http_guard import BodyRule
from servicekit.identity import Principal
from servicekit.openapi import raw_body
from servicekit.outbox import Cause
from servicekit.service import ServiceRuntime, UnitOfWork
from services.assessment.domain.register import RegisterEntry, decide_change, decide_load
from services.assessment.domain.register_files import (
    MAX_HTTP_FILE_BYTES, RegisterFormat, check_http_file, format_of, parse_register_file,
)
from services.assessment.register_store import RegisterStore

log = logging.get_logger(__name__)
REGISTER_AGGREGATE = "register:organisations"
CvrPath = Annotated[str, StringConstraints(pattern=r"^[0-9]{8}$")]
Source = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,79}$")]


async def load_source(uow: UnitOfWork, source: str, text: str, fmt: RegisterFormat,
                      cause: Cause, changed_by: str) -> dict[str, Any]:
    """Load one register file as ``source``'s next version (nothing when unchanged)."""
    parsed = parse_register_file(text, fmt, f"register source {source}")
    store = RegisterStore(uow.conn)
    revision = await store.lock_revision()
    in_force = await store.source(source)
    current = await store.entries(o.cvr for o in parsed.organisations)
    events = decide_load(source, parsed, in_force, current, revision, changed_by)
    recorded = [e for e in events if isinstance(e, OrganisationRecorded)]
    await store.record(recorded)
    for event in events:
        uow.emit(event, aggregate_id=REGISTER_AGGREGATE, cause=cause)
        if isinstance(event, RegisterSourceLoaded):
            await store.save_source(event)
    version = events[-1].source_version if events else in_force.version  # type: ignore[union-attr]  # no events: the source in force exists
    return {"source": source, "version": version, "loaded": bool(events),
            "rows": len(parsed.organisations), "skipped": parsed.skipped,
            "changed": len(recorded), "revision": recorded[-1].revision if recorded else revision}


def _view(entry: RegisterEntry) -> dict[str, Any]:
    return {**entry.organisation.model_dump(mode="json"), "entry_version": entry.entry_version,
            "revision": entry.revision, "source": entry.source}


def register_router(runtime: ServiceRuntime) -> APIRouter:
    # A register file is not JSON and may be up to 64 MiB; the guard counts it while it streams.
    runtime.body_rules.append(BodyRule(re.compile(r"/register/sources/[^/]+"),
                                       MAX_HTTP_FILE_BYTES, raw=True,
                                       too_large_code="register_too_large"))
    router = APIRouter(tags=["organisation register"])
    caseworker = Depends(runtime.require("caseworker"))
    staff = Depends(runtime.require("caseworker", "assessor", "approver", "auditor"))

    @router.post("/organisations", summary="Create or change one register entry (caseworker)",
                 openapi_extra=raw_body(Organisation))
    async def change(raw: dict[str, Any], request: Request,
                     principal: Principal = caseworker) -> JSONResponse:
        cause = cause_of_request(request, principal, "caseworker")
        cvr = raw.get("cvr") if isinstance(raw.get("cvr"), str) else None

        async def work(uow: UnitOfWork) -> tuple[OrganisationRecorded | None, RegisterEntry | None]:
            store = RegisterStore(uow.conn)
            revision = await store.lock_revision()
            current = await store.entry(cvr) if cvr else None
            event = decide_change(current, raw, revision, principal.subject[:128])
            if event is not None:
                await store.record([event])
                uow.emit(event, aggregate_id=REGISTER_AGGREGATE, cause=cause)
            return event, current

        event, current = await runtime.in_transaction(work)
        if event is None:
            assert current is not None
            return JSONResponse({"recorded": False, **_view(current)}, status_code=200)
        return JSONResponse({"recorded": True, "change": event.change,
                             **_view(RegisterEntry.from_event(event))}, status_code=201)

    @router.get("/organisations")
    async def of_municipality(municipality_code: Annotated[str, Query(pattern=r"^[0-9]{3}$")],
                              kind: str | None = None,
                              _: Principal = staff) -> dict[str, Any]:
        async with runtime.pool.acquire() as conn:
            found = await RegisterStore(conn).of_municipality(municipality_code, kind)
        return {"organisations": [_view(e) for e in found]}

    @router.get("/organisations/{cvr}")
    async def one(cvr: CvrPath, _: Principal = staff) -> dict[str, Any]:
        async with runtime.pool.acquire() as conn:
            entry = await RegisterStore(conn).entry(cvr)
        if entry is None:
            raise Refusal("organisation_unknown", "no organisation with this CVR", "not_found")
        return _view(entry)

    @router.get("/organisations/{cvr}/history")
    async def history(cvr: CvrPath, _: Principal = staff) -> dict[str, Any]:
        async with runtime.pool.acquire() as conn:
            events = await RegisterStore(conn).history(cvr)
        if not events:
            raise Refusal("organisation_unknown", "no organisation with this CVR", "not_found")
        return {"cvr": cvr, "changes": [e.model_dump(mode="json") for e in events]}

    @router.post("/register/sources/{source}",
                 summary="Load a register file (the body) as the source's next version")
    async def load(source: Source, request: Request,
                   format: RegisterFormat = "grants-register-csv",  # the API's name
                   principal: Principal = caseworker) -> dict[str, Any]:
        chunks, size = [], 0
        async for chunk in request.stream():  # refused as soon as it is too big, not after
            size += len(chunk)
            check_http_file(size)
            chunks.append(chunk)
        body = b"".join(chunks)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Refusal("register_invalid", "the file is not UTF-8 text", "invalid") from exc
        cause = cause_of_request(request, principal, "caseworker")
        return await runtime.in_transaction(
            lambda uow: load_source(uow, source, text, format, cause, principal.subject[:128]))

    return router


def register_files_hook(paths: list[Path]):
    """A start-up hook loading each file (source id = file name without extension)."""

    async def load_files(runtime: ServiceRuntime) -> None:
        for path in paths:
            source = path.name.split(".")[0]
            cause = Cause(actor=Actor(id=f"svc-{runtime.name}", role="system"),
                          correlation_id=f"register-file-{source}")
            def work(uow, p=path, s=source, c=cause):  # this iteration's file
                return load_source(uow, s, p.read_text(encoding="utf-8"), format_of(p.name), c,
                                   f"svc-{runtime.name}")
            result = await runtime.in_transaction(work)
            log.info("register_file_loaded", source=source, version=result["version"],
                     loaded=result["loaded"], rows=result["rows"], changed=result["changed"])

    return load_files

"""Thin adapters of the organisation register: HTTP routes and the start-up load of files. Each
builds a command, runs it (:mod:`.register_service`) and maps the result. The router is the
module's, its dependencies as in :mod:`.routes`; the rule of the guard for a register file's
body (``REGISTER_FILE_BODY``) is added to the runtime by :func:`services.assessment.app.build`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import StringConstraints

from contracts.base import Actor
from contracts.register import Organisation
from servicekit import logging
from servicekit.http import cause_of_request
from servicekit.http_guard import BodyRule
from servicekit.identity import Principal
from servicekit.openapi import raw_body
from servicekit.outbox import Cause
from servicekit.service import ServiceRuntime, requires
from services.assessment.domain.register import RegisterEntry, changed_cvr, require_known
from services.assessment.domain.register_files import (
    MAX_HTTP_FILE_BYTES, RegisterFormat, check_http_file, format_of, register_text,
)
from services.assessment.register_service import (
    ChangeOrganisation, LoadSource, change_organisation, load_source,
)
from services.assessment.register_store import RegisterStore
from services.assessment.routes import Caseworker, Runtime

log = logging.get_logger(__name__)
CvrPath = Annotated[str, StringConstraints(pattern=r"^[0-9]{8}$")]
Source = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,79}$")]
# A register file is not JSON and may be up to 64 MiB; the guard counts it while it streams.
REGISTER_FILE_BODY = BodyRule(re.compile(r"/register/sources/[^/]+"), MAX_HTTP_FILE_BYTES,
                              raw=True, too_large_code="register_too_large")

router = APIRouter(tags=["organisation register"])
Staff = Annotated[Principal, Depends(requires("caseworker", "assessor", "approver", "auditor"))]


def _view(entry: RegisterEntry) -> dict[str, Any]:
    return {**entry.organisation.model_dump(mode="json"), "entry_version": entry.entry_version,
            "revision": entry.revision, "source": entry.source}


@router.post("/organisations", summary="Create or change one register entry (caseworker)",
             openapi_extra=raw_body(Organisation))
async def change(raw: dict[str, Any], request: Request, principal: Caseworker,
                 runtime: Runtime) -> JSONResponse:
    event, current = await runtime.handle(change_organisation, ChangeOrganisation(
        raw, changed_cvr(raw), principal.subject[:128],
        cause_of_request(request, principal, "caseworker")))
    if event is None:
        assert current is not None
        return JSONResponse({"recorded": False, **_view(current)}, status_code=200)
    return JSONResponse({"recorded": True, "change": event.change,
                         **_view(RegisterEntry.from_event(event))}, status_code=201)


@router.get("/organisations")
async def of_municipality(municipality_code: Annotated[str, Query(pattern=r"^[0-9]{3}$")],
                          _: Staff, runtime: Runtime,
                          kind: str | None = None) -> dict[str, Any]:
    async with runtime.pool.acquire() as conn:
        found = await RegisterStore(conn).of_municipality(municipality_code, kind)
    return {"organisations": [_view(e) for e in found]}


@router.get("/organisations/{cvr}")
async def one(cvr: CvrPath, _: Staff, runtime: Runtime) -> dict[str, Any]:
    async with runtime.pool.acquire() as conn:
        entry = require_known(await RegisterStore(conn).entry(cvr))
    return _view(entry)


@router.get("/organisations/{cvr}/history")
async def history(cvr: CvrPath, _: Staff, runtime: Runtime) -> dict[str, Any]:
    async with runtime.pool.acquire() as conn:
        events = require_known(await RegisterStore(conn).history(cvr))
    return {"cvr": cvr, "changes": [e.model_dump(mode="json") for e in events]}


@router.post("/register/sources/{source}",
             summary="Load a register file (the body) as the source's next version")
async def load(source: Source, request: Request, principal: Caseworker, runtime: Runtime,
               format: RegisterFormat = "grants-register-csv",  # the API's name
               ) -> dict[str, Any]:
    chunks, size = [], 0
    async for chunk in request.stream():  # refused as soon as it is too big, not after
        size += len(chunk)
        check_http_file(size)
        chunks.append(chunk)
    return await runtime.handle(load_source, LoadSource(
        source, register_text(b"".join(chunks)), format,
        cause_of_request(request, principal, "caseworker"), principal.subject[:128]))


def register_files_hook(paths: list[Path]) -> Callable[[ServiceRuntime], Awaitable[None]]:
    """A start-up hook loading each file (source id = file name without extension)."""

    async def load_files(runtime: ServiceRuntime) -> None:
        for path in paths:
            source = path.name.split(".")[0]
            cause = Cause(actor=Actor(id=f"svc-{runtime.name}", role="system"),
                          correlation_id=f"register-file-{source}")
            result = await runtime.handle(load_source, LoadSource(
                source, path.read_text(encoding="utf-8"), format_of(path.name), cause,
                f"svc-{runtime.name}"))
            log.info("register_file_loaded", source=source, version=result["version"],
                     loaded=result["loaded"], rows=result["rows"], changed=result["changed"])

    return load_files

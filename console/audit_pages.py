"""Audit: run the auditors' replay, its verdict and first violation with its event, the dead
letters each service's consumers set aside, and downloads of the 360Giving JSON/CSV and of the
replay report.

The replay is the auditors' own verification from the event log and the public keys alone
(``grants audit replay``), run as a process of its own (``GRANTS_CONSOLE_REPLAY_COMMAND``): no
service decides it, so the console lets only a person signed in with the auditor role start it.
"""

from __future__ import annotations

import asyncio
import json
import shlex
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.services import SERVICES, Refused
from console.web import back, console_of, form_of, render, signed_in

REPLAY_TIMEOUT_S = 600
DOWNLOADS = {"360giving.json": ("application/json", "/exports/360giving.json"),
             "360giving.csv": ("text/csv; charset=utf-8", "/exports/360giving.csv")}


def _work_dir(request: Request) -> Path | None:
    return console_of(request).settings.work_dir


def last_replay(work: Path | None) -> dict[str, Any] | None:
    if work is None or not (work / "replay.json").is_file():
        return None
    try:
        return json.loads((work / "replay.json").read_text())
    except ValueError:
        return None


async def dead_letters(request: Request) -> list[dict[str, Any]]:
    """Per service and consumer: the messages it dead-lettered since it started (``/health``)."""
    services = console_of(request).services
    rows = []
    for name in SERVICES:
        try:
            health = await services.get(name, "/health", None)
        except Refused:
            rows.append({"service": name, "consumer": "", "dead_lettered": None})
            continue
        for consumer, figures in (health.get("consumers") or {}).items():
            rows.append({"service": name, "consumer": consumer,
                         "dead_lettered": figures.get("dead_lettered", 0)})
    return rows


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/audit", response_class=HTMLResponse)
    async def audit(request: Request) -> HTMLResponse:
        session = signed_in(request)
        settings = console_of(request).settings
        return render(request, "audit.html", replay=last_replay(_work_dir(request)),
                      dead_letters=await dead_letters(request),
                      can_replay=bool(settings.replay_command and settings.work_dir),
                      auditor=session.has("auditor"))

    @r.post("/audit/replay")
    async def run_replay(request: Request) -> Response:
        session = signed_in(request)
        await form_of(request, session)
        settings = console_of(request).settings
        if not session.has("auditor"):
            return back(request, session, "/audit", refused=Refused(
                "console", 403, "role_not_allowed"))
        work = settings.work_dir
        if not settings.replay_command or work is None:
            return back(request, session, "/audit", refused=Refused(
                "console", 404, "not_found"))
        work.mkdir(parents=True, exist_ok=True)
        command = [*shlex.split(settings.replay_command), "--json", str(work / "replay.json"),
                   "--report", str(work / "replay.html")]
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            await asyncio.wait_for(process.wait(), REPLAY_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            return back(request, session, "/audit", refused=Refused(
                "console", 504, "service_unavailable"))
        replay = last_replay(work)
        if replay is None:
            return back(request, session, "/audit", refused=Refused(
                "console", 502, "service_unavailable"))
        return back(request, session, "/audit", ok=f"audit.verdict.{replay['verdict']}")

    @r.get("/audit/replay.{kind}")
    async def replay_report(request: Request, kind: str) -> Response:
        session = signed_in(request)
        work = _work_dir(request)
        media = {"json": "application/json", "html": "text/html; charset=utf-8"}.get(kind)
        if not session.has("auditor") or media is None or work is None or not (
                work / f"replay.{kind}").is_file():
            raise Refused("console", 404 if session.has("auditor") else 403,
                          "not_found" if session.has("auditor") else "role_not_allowed")
        return Response((work / f"replay.{kind}").read_bytes(), media_type=media, headers={
            "Content-Disposition": f'attachment; filename="replay-report.{kind}"'})

    @r.get("/audit/{name}")
    async def export(request: Request, name: str) -> Response:
        session = signed_in(request)
        if name not in DOWNLOADS:
            raise Refused("console", 404, "not_found")
        media, path = DOWNLOADS[name]
        answer = await console_of(request).services.raw("reporting", "GET", path, session.token)
        return Response(answer.content, media_type=media,
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    return r

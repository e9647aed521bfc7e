"""Wiring of the console: settings, sessions, the service client, pages, error answers."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from console import pages, signin, texts
from console.services import Refused, Services
from console.sessions import SessionStore
from console.settings import ConsoleSettings
from console.web import (
    LANG_COOKIE, Console, Forbidden, SignInRequired, local_path, make_env, render, session_of,
)

STATIC = Path(__file__).parent / "static"
SECURITY_HEADERS = {
    # No script runs on any page (every form works without one), no frame embeds us.
    "Content-Security-Policy": ("default-src 'none'; style-src 'self'; img-src 'self' data:; "
                                "form-action 'self' {oidc}; frame-ancestors 'none'; "
                                "base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def _secret(settings: ConsoleSettings) -> bytes:
    if settings.session_secret_file is not None:
        return settings.session_secret_file.read_bytes().strip()
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value().encode()
    return secrets.token_bytes(32)


def build(settings: ConsoleSettings | None = None, *,
          transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    settings = settings or ConsoleSettings()
    services = Services({"intake": settings.intake_url, "assessment": settings.assessment_url,
                         "payments": settings.payments_url,
                         "reporting": settings.reporting_url},
                        settings.service_timeout_s, transport=transport)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await services.close()

    app = FastAPI(title="Grants console", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.console = Console(settings=settings,
                                sessions=SessionStore(_secret(settings), settings.session_ttl_s),
                                services=services, env=make_env())
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    csp = SECURITY_HEADERS["Content-Security-Policy"].format(oidc=settings.oidc_issuer or "")

    @app.middleware("http")
    async def headers(request: Request, call_next):
        response: Response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, csp if name == "Content-Security-Policy" else value)
        return response

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _: SignInRequired) -> Response:
        return RedirectResponse(f"/signin?next={request.url.path}", status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> HTMLResponse:
        return render(request, "error.html", status=403, message_key="error.csrf",
                      code=str(exc))

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Response:
        if exc.code in ("token_expired", "token_invalid", "token_missing"):
            session = session_of(request)
            if session is not None:
                app.state.console.sessions.drop(session)
            return RedirectResponse(f"/signin?next={request.url.path}", status_code=303)
        status = exc.status if exc.status in (403, 404, 409) else 502
        return render(request, "error.html", status=status, refused=exc)

    @app.get("/language/{lang}", include_in_schema=False)
    async def language(lang: str, next: str = "/") -> Response:
        """Remember the language (a plain preference cookie) and go back where one was."""
        response = RedirectResponse(local_path(next), status_code=303)
        if lang in texts.LANGUAGES:
            response.set_cookie(LANG_COOKIE, lang, samesite="strict", httponly=True,
                                secure=settings.secure_cookies, max_age=365 * 24 * 3600)
        return response

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": "console"}

    app.include_router(signin.router())
    app.include_router(pages.router())
    return app

"""The plumbing every page shares: the session of a request, CSRF, rendering, flash messages.

Pages are plain FastAPI routes returning HTML. A form is urlencoded (parsed here, no JavaScript
and no multipart needed); a POST without the session's CSRF token is refused (403) before it
reaches a service. After a POST the page redirects (303) back, with what happened as a flash
message, so a reload never repeats a command.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console import texts
from console.services import Refused, Services
from console.sessions import COOKIE, Session, SessionStore, csrf_ok
from console.settings import ConsoleSettings

TEMPLATES = Path(__file__).parent / "templates"
LANG_COOKIE = "grants_console_lang"
MAX_FORM_BYTES = 64 * 1024


class SignInRequired(Exception):
    """The page needs a signed-in person: the answer is the sign-in page."""


class Forbidden(Exception):
    """The CSRF token is missing or wrong, or the form is too large."""


@dataclass
class Console:
    settings: ConsoleSettings
    sessions: SessionStore
    services: Services
    env: jinja2.Environment


def make_env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=jinja2.select_autoescape(["html"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    return env


def console_of(request: Request) -> Console:
    return request.app.state.console


def session_of(request: Request) -> Session | None:
    return console_of(request).sessions.from_cookie(request.cookies.get(COOKIE))


def signed_in(request: Request, *roles: str) -> Session:
    """The signed-in person's session (any role when none named: the services decide)."""
    session = session_of(request)
    if session is None or not session.signed_in:
        raise SignInRequired()
    return session


def lang_of(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, "da")
    return lang if lang in texts.LANGUAGES else "da"


def local_path(target: str | None, default: str = "/") -> str:
    """Only a path on this site (no scheme, no host, no ``//``) is a place to send someone."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    return default if parts.scheme or parts.netloc else target


async def form_of(request: Request, session: Session | None) -> dict[str, str]:
    """The urlencoded form of a POST, its CSRF token checked (one value per field: the last)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise Forbidden("form_too_large")
    fields = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace"),
                                             keep_blank_values=True).items()}
    if not csrf_ok(session, fields.get("csrf")):
        raise Forbidden("csrf_invalid")
    return fields


async def form_lists(request: Request) -> dict[str, list[str]]:
    """Every value of every field (checkbox groups); call after :func:`form_of`."""
    return parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    console = console_of(request)
    session = session_of(request)
    fresh = None
    if session is None:  # every page has a session, so even the sign-in form has a CSRF token
        session = fresh = console.sessions.new()
    lang = lang_of(request)
    flashes = session.flashes
    session.flashes = []
    html = console.env.get_template(template).render(
        t=texts.Catalogue(lang), lang=lang, session=session, request_path=request.url.path,
        query=request.url.query, flashes=flashes, csp_nonce=secrets.token_urlsafe(12),
        **context)
    response = HTMLResponse(html, status_code=status)
    if fresh is not None:
        set_session_cookie(response, console, fresh)
    return response


def set_session_cookie(response: Response, console: Console, session: Session) -> None:
    response.set_cookie(COOKIE, console.sessions.cookie_value(session), httponly=True,
                        samesite="strict", secure=console.settings.secure_cookies, path="/",
                        max_age=console.settings.session_ttl_s)


def back(request: Request, session: Session, to: str, *, ok: str | None = None,
         refused: Refused | None = None, **values: Any) -> RedirectResponse:
    """303 to ``to`` with a flash: ``ok`` a text key of the catalogue, or the refusal in words."""
    catalogue = texts.Catalogue(lang_of(request))
    if ok is not None:
        session.flashes.append(("ok", catalogue(ok, **values)))
    if refused is not None:
        session.flashes.append(("error", catalogue.refusal(refused)))
    return RedirectResponse(local_path(to), status_code=303)

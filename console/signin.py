"""Signing in and out.

- **Dev sign-in** (embedded stack only, ``GRANTS_CONSOLE_DEV_SIGNIN``): a person id and roles;
  the console mints the token server-side with the stack's dev issuer (the key the services
  trust), so no token ever reaches the browser.
- **OpenID Connect** (production): the authorisation code flow with PKCE (S256) against the
  identity broker in the settings. ``state`` and ``nonce`` are checked; the code is exchanged at
  the token endpoint from this server; the services get the broker's access token (they verify
  it, the console only reads who it names to lay out its menus).
- **Sign-out** drops the server-side session (a POST with the CSRF token).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.web import (
    Console, console_of, form_lists, form_of, local_path, render, session_of, set_session_cookie,
)
from servicekit.identity import DevTokenIssuer

STAFF_ROLES = ("caseworker", "assessor", "approver", "finance", "auditor")
SUBJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
LOGIN_COOKIE = "grants_console_login"  # SameSite=Lax: it must come back from the broker


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/signin", response_class=HTMLResponse)
    async def signin_page(request: Request, next: str = "/") -> HTMLResponse:
        console = console_of(request)
        return render(request, "signin.html", next=local_path(next), roles=STAFF_ROLES,
                      dev=console.settings.dev_signin, oidc=console.settings.oidc_enabled,
                      invalid=False)

    @r.post("/signin/dev")
    async def dev_signin(request: Request) -> Response:
        console = console_of(request)
        if not console.settings.dev_signin or console.settings.dev_key_dir is None:
            return render(request, "signin.html", status=404, next="/", roles=STAFF_ROLES,
                          dev=False, oidc=console.settings.oidc_enabled, invalid=False)
        old = session_of(request)
        form = await form_of(request, old)
        chosen = (await form_lists(request)).get("roles", [])
        roles = tuple(role for role in STAFF_ROLES if role in chosen)
        subject = form.get("subject", "").strip()
        if not SUBJECT.match(subject) or not roles:
            return render(request, "signin.html", status=422, next=local_path(form.get("next")),
                          roles=STAFF_ROLES, dev=True, oidc=console.settings.oidc_enabled,
                          invalid=True)
        token = DevTokenIssuer(console.settings.dev_key_dir).issue(
            subject, list(roles), ttl_s=console.settings.session_ttl_s)
        return _signed_in(console, old, token, subject, roles, local_path(form.get("next")))

    @r.get("/signin/oidc")
    async def oidc_start(request: Request, next: str = "/") -> Response:
        console = console_of(request)
        endpoints = await _endpoints(console)
        verifier = secrets.token_urlsafe(48)
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        challenge = base64.urlsafe_b64encode(
            hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        params = {"response_type": "code", "client_id": console.settings.oidc_client_id,
                  "redirect_uri": _redirect_uri(console), "scope": console.settings.oidc_scopes,
                  "state": state, "nonce": nonce, "code_challenge": challenge,
                  "code_challenge_method": "S256"}
        session = console.sessions.new()
        session.pending_login = {"state": state, "nonce": nonce, "verifier": verifier,
                                 "next": local_path(next)}
        response = RedirectResponse(f"{endpoints['authorization_endpoint']}?{urlencode(params)}",
                                    status_code=303)
        response.set_cookie(LOGIN_COOKIE, console.sessions.cookie_value(session), httponly=True,
                            samesite="lax", secure=console.settings.secure_cookies,
                            path="/signin/callback", max_age=600)
        return response

    @r.get("/signin/callback")
    async def oidc_callback(request: Request, code: str = "", state: str = "",
                            error: str = "") -> Response:
        console = console_of(request)
        pending = console.sessions.from_cookie(request.cookies.get(LOGIN_COOKIE))
        expected = pending.pending_login if pending is not None else {}
        if error or not code or not expected or not secrets.compare_digest(
                state, expected.get("state", "")):
            return _failed(request, error or "state_mismatch")
        try:
            tokens = await _exchange(console, code, expected["verifier"])
            claims = _claims(tokens, console, expected["nonce"])
        except (httpx.HTTPError, ValueError, KeyError, jwt.PyJWTError) as exc:
            return _failed(request, type(exc).__name__)
        token = tokens[console.settings.oidc_service_token]
        roles = tuple(str(r) for r in claims.get("roles", []) if isinstance(r, str))
        assert pending is not None
        response = _signed_in(console, pending, token, str(claims.get("sub", "")), roles,
                              expected.get("next", "/"), via_page=request)
        response.delete_cookie(LOGIN_COOKIE, path="/signin/callback")
        return response

    @r.post("/signout")
    async def signout(request: Request) -> Response:
        console = console_of(request)
        session = session_of(request)
        await form_of(request, session)
        assert session is not None
        console.sessions.drop(session)
        fresh = console.sessions.new()
        fresh.flashes.append(("ok", _catalogue(request)("signout.done")))
        response = RedirectResponse("/signin", status_code=303)
        set_session_cookie(response, console, fresh)
        return response

    return r


def _catalogue(request: Request):
    from console import texts
    from console.web import lang_of

    return texts.Catalogue(lang_of(request))


def _signed_in(console: Console, old: Any, token: str, subject: str, roles: tuple[str, ...],
               to: str, via_page: Request | None = None) -> Response:
    session = console.sessions.sign_in(old, token=token, subject=subject, roles=roles)
    if via_page is None:
        response: Response = RedirectResponse(to, status_code=303)
    else:
        # Back from the identity broker the navigation is cross-site, so a SameSite=Strict
        # cookie set now would not come with a redirect: a page of ours moves on instead.
        response = render(via_page, "continue.html", to=to)
    set_session_cookie(response, console, session)
    return response


def _failed(request: Request, code: str) -> HTMLResponse:
    console = console_of(request)
    return render(request, "signin.html", status=401, next="/", roles=STAFF_ROLES,
                  dev=console.settings.dev_signin, oidc=console.settings.oidc_enabled,
                  invalid=False, failed=code[:60])


def _redirect_uri(console: Console) -> str:
    return f"{console.settings.public_url.rstrip('/')}/signin/callback"


async def _endpoints(console: Console) -> dict[str, str]:
    s = console.settings
    if s.oidc_authorization_endpoint and s.oidc_token_endpoint:
        return {"authorization_endpoint": s.oidc_authorization_endpoint,
                "token_endpoint": s.oidc_token_endpoint}
    assert s.oidc_issuer is not None
    discovery = await console.services._client.get(  # noqa: SLF001 - the one pooled client
        f"{s.oidc_issuer.rstrip('/')}/.well-known/openid-configuration")
    discovery.raise_for_status()
    found = discovery.json()
    return {"authorization_endpoint": s.oidc_authorization_endpoint
            or found["authorization_endpoint"],
            "token_endpoint": s.oidc_token_endpoint or found["token_endpoint"]}


async def _exchange(console: Console, code: str, verifier: str) -> dict[str, Any]:
    s = console.settings
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": _redirect_uri(console),
            "client_id": s.oidc_client_id or "", "code_verifier": verifier}
    auth = None
    if s.oidc_client_secret is not None:
        auth = (s.oidc_client_id or "", s.oidc_client_secret.get_secret_value())
    response = await console.services._client.post(  # noqa: SLF001
        (await _endpoints(console))["token_endpoint"], data=form,
        auth=auth)  # type: ignore[arg-type]  # httpx takes None (no auth); its hints omit it
    response.raise_for_status()
    tokens = response.json()
    if not isinstance(tokens, dict) or s.oidc_service_token not in tokens:
        raise ValueError("no token in the token endpoint's answer")
    return tokens


def _claims(tokens: dict[str, Any], console: Console, nonce: str) -> dict[str, Any]:
    """Who the tokens name. Read, not verified: the console decides nothing with it (the
    services verify the token on every call); the ID token's nonce must be ours."""
    id_token = tokens.get("id_token")
    if id_token:
        id_claims = jwt.decode(id_token, options={"verify_signature": False})
        if id_claims.get("nonce") != nonce:
            raise ValueError("nonce_mismatch")
    claims = jwt.decode(tokens[console.settings.oidc_service_token],
                        options={"verify_signature": False})
    if not isinstance(claims, dict) or not claims.get("sub"):
        raise ValueError("no subject")
    return claims

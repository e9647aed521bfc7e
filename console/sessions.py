"""Sessions: kept on the server, named by a signed, HttpOnly, SameSite=Strict cookie.

The browser holds only a random session id with an HMAC over it: the person's token stays in
this process (never in a cookie, local storage or a page), and a restart of the console signs
everyone out. Every session, also the anonymous one of the sign-in page, has a CSRF token that
every form carries and every POST must return.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field

COOKIE = "grants_console_session"
MAX_SESSIONS = 10_000


@dataclass
class Session:
    id: str
    csrf: str
    created: float
    token: str | None = None
    subject: str | None = None
    roles: tuple[str, ...] = ()
    # OIDC: what the callback checks (state, nonce, PKCE verifier) while sign-in is under way.
    pending_login: dict[str, str] = field(default_factory=dict)
    # What the last POST did, shown once on the next page: (kind "ok" | "error", text).
    flashes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def signed_in(self) -> bool:
        return self.token is not None

    def has(self, *roles: str) -> bool:
        return bool(set(roles) & set(self.roles))


class SessionStore:
    def __init__(self, secret: bytes, ttl_s: int) -> None:
        self._secret = secret
        self._ttl_s = ttl_s
        self._sessions: dict[str, Session] = {}

    def _sign(self, session_id: str) -> str:
        return hmac.new(self._secret, session_id.encode(), hashlib.sha256).hexdigest()

    def cookie_value(self, session: Session) -> str:
        return f"{session.id}.{self._sign(session.id)}"

    def from_cookie(self, value: str | None) -> Session | None:
        if not value or "." not in value:
            return None
        session_id, _, signature = value.partition(".")
        if not hmac.compare_digest(signature, self._sign(session_id)):
            return None
        session = self._sessions.get(session_id)
        if session is None or time.time() - session.created > self._ttl_s:
            self._sessions.pop(session_id, None)
            return None
        return session

    def new(self) -> Session:
        if len(self._sessions) >= MAX_SESSIONS:
            self._expire()
        session = Session(id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32),
                          created=time.time())
        self._sessions[session.id] = session
        return session

    def sign_in(self, old: Session | None, *, token: str, subject: str,
                roles: tuple[str, ...]) -> Session:
        """A fresh session id on sign-in (no fixation of the anonymous one)."""
        if old is not None:
            self._sessions.pop(old.id, None)
        session = self.new()
        session.token, session.subject, session.roles = token, subject, roles
        return session

    def drop(self, session: Session) -> None:
        self._sessions.pop(session.id, None)

    def _expire(self) -> None:
        now = time.time()
        for key in [k for k, s in self._sessions.items() if now - s.created > self._ttl_s]:
            del self._sessions[key]
        while len(self._sessions) >= MAX_SESSIONS:  # still full: the oldest go
            del self._sessions[min(self._sessions, key=lambda k: self._sessions[k].created)]


def csrf_ok(session: Session | None, sent: str | None) -> bool:
    return session is not None and bool(sent) and hmac.compare_digest(session.csrf, sent or "")

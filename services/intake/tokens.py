"""Verified bearer tokens, shared by both ways in (HTTP and the portal topic)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from contracts.base import Actor
from servicekit.identity import AuthError, Principal, TokenVerifier


def verify(verifier: TokenVerifier, token: str | None) -> Principal | AuthError:
    """The verifier's answer as a value: a refused token is decided (a receipt), not raised."""
    try:
        return verifier.verify(token)
    except AuthError as refused:
        return refused


class TokenCache:
    """Verified principals by token string, each until its token's ``exp`` (a bounded LRU).

    Verifying a signature costs more than deciding most submissions, and a portal sends many
    submissions with one token. Only a token that verified is kept, and only until its ``exp``
    (not the verifier's leeway after it: from then on the verifier decides again, so an expired
    token is refused exactly as without the cache). Refusals are never kept: each is verified,
    and refused, again. The keys are the issuer's, fixed for the process' life.
    """

    def __init__(self, verifier: Callable[[], TokenVerifier], max_entries: int = 10_000) -> None:
        self._verifier = verifier
        self._max = max_entries
        self._held: OrderedDict[str, tuple[float, Principal]] = OrderedDict()

    def verify(self, token: str | None) -> Principal | AuthError:
        if token:
            held = self._held.get(token)
            if held is not None:
                if time.time() < held[0]:
                    self._held.move_to_end(token)
                    return held[1]
                del self._held[token]
        who = verify(self._verifier(), token)
        if isinstance(who, Principal) and token:
            exp = who.claims.get("exp")
            if isinstance(exp, int | float) and not isinstance(exp, bool) and exp > time.time():
                self._held[token] = (float(exp), who)
                if len(self._held) > self._max:
                    self._held.popitem(last=False)
        return who


def submitter_of(who: Principal | AuthError) -> Actor:
    """The actor of a submission's events: the verified subject, else ``unauthenticated``."""
    if isinstance(who, Principal) and who.subject:
        return Actor(id=who.subject[:128], role="applicant")
    return Actor(id="unauthenticated", role="applicant")

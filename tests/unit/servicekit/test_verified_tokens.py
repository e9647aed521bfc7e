"""The request guard's verified tokens (servicekit.http_guard.VerifiedTokens): a token one
verifier accepted answers from memory, by its exact text, until its ``exp`` plus the leeway has
passed on the real clock; whatever the verifier refuses is refused every time; another verifier
(other keys) starts over."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from servicekit import http_guard
from servicekit.http_guard import VerifiedTokens
from servicekit.identity import AuthError, Principal, TokenVerifier

ISSUER, AUDIENCE = "grants-dev-issuer", "grants-platform"
KEY, OTHER = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()


class Counting(TokenVerifier):
    def __init__(self, key: Ed25519PrivateKey, leeway_s: int = 30) -> None:
        super().__init__(issuer=ISSUER, audience=AUDIENCE, keys=[key.public_key()],
                         leeway_s=leeway_s)
        self.calls = 0

    def verify(self, token: str | None) -> Principal:
        self.calls += 1
        return super().verify(token)


def _token(key: Ed25519PrivateKey = KEY, *, ttl_s: int = 600, **claims: Any) -> str:
    now = int(time.time())
    return jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "a-1", "roles": ["assessor"],
                       "exp": now + ttl_s, **claims}, key, algorithm="EdDSA")


def test_a_token_is_verified_once_and_answers_the_same_principal() -> None:
    verifier, tokens, token = Counting(KEY), VerifiedTokens(), _token()
    first = tokens.verify(verifier, token)
    assert [tokens.verify(verifier, token) for _ in range(3)] == [first] * 3
    assert verifier.calls == 1 and first.subject == "a-1" and first.roles == {"assessor"}
    other = _token(sub="a-2")
    assert tokens.verify(verifier, other).subject == "a-2" and verifier.calls == 2


def test_refusals_are_never_kept() -> None:
    verifier, tokens = Counting(KEY), VerifiedTokens()
    good = _token()
    tokens.verify(verifier, good)
    head, body, signature = good.split(".")
    tampered = f"{head}.{body}.{signature[:-4]}AAAA"
    expired = _token(ttl_s=-120)  # beyond the 30 s leeway
    for token, code in ((tampered, "token_invalid"), (expired, "token_expired"),
                        (None, "token_missing"), ("", "token_missing"),
                        (_token(OTHER), "token_invalid")):
        for _ in range(2):
            with pytest.raises(AuthError) as refused:
                tokens.verify(verifier, token)
            assert refused.value.code == code
    assert verifier.calls == 1 + 10


def test_a_kept_token_goes_back_to_the_verifier_once_exp_plus_leeway_passed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    verifier, tokens = Counting(KEY, leeway_s=30), VerifiedTokens()
    token = _token(ttl_s=100)
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    tokens.verify(verifier, token)
    real = time.time
    monkeypatch.setattr(http_guard.time, "time", lambda: exp + 29.5)
    tokens.verify(verifier, token)
    assert verifier.calls == 1  # still inside exp + leeway
    monkeypatch.setattr(http_guard.time, "time", lambda: exp + 30)
    tokens.verify(verifier, token)  # PyJWT's own clock says valid; the point: it was asked
    assert verifier.calls == 2
    monkeypatch.setattr(http_guard.time, "time", real)


def test_another_verifier_starts_over() -> None:
    tokens, token = VerifiedTokens(), _token()
    tokens.verify(Counting(KEY), token)
    with pytest.raises(AuthError) as refused:
        tokens.verify(Counting(OTHER), token)  # rotated keys: the old acceptance is not reused
    assert refused.value.code == "token_invalid"


def test_a_full_map_starts_over(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(VerifiedTokens, "MAX", 2)
    verifier, tokens = Counting(KEY), VerifiedTokens()
    a, b, c = (_token(sub=s) for s in ("a", "b", "c"))
    for token in (a, b, c, c, a):
        tokens.verify(verifier, token)
    assert verifier.calls == 4  # c evicted a and b; c kept; a verified again

"""Issue 14.5: tokens verified by the key their header names, EdDSA and RS256 side by side;
every failure a 401 with a code, never another exception (before: an RS256 token against an
Ed25519-configured service raised past the verifier, a 500; a JWKS with an Ed25519 and an RSA key
could not verify tokens of the second kind)."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key

from servicekit.identity import AuthError, TokenVerifier, keys_from_jwks

ISSUER, AUDIENCE = "grants-dev-issuer", "grants-platform"
ED = Ed25519PrivateKey.generate()
RSA = generate_private_key(public_exponent=65537, key_size=2048)
RSA_OTHER = generate_private_key(public_exponent=65537, key_size=2048)


def _jwk(private: Any, kid: str) -> dict[str, Any]:
    if isinstance(private, Ed25519PrivateKey):
        data = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(private.public_key()))
    else:
        data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    return {**data, "kid": kid}


def _token(private: Any, kid: str | None, algorithm: str, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "p-1", "roles": ["applicant"],
            "exp": now + 600, **claims}
    headers = {"kid": kid} if kid else None
    return jwt.encode(body, private, algorithm=algorithm, headers=headers)


def _verifier(*jwks: dict[str, Any]) -> TokenVerifier:
    return TokenVerifier(issuer=ISSUER, audience=AUDIENCE,
                         keys=keys_from_jwks(json.dumps({"keys": list(jwks)})))


def test_rotation_from_an_ed25519_to_an_rsa_key() -> None:
    before = _verifier(_jwk(ED, "ed-1"))
    during = _verifier(_jwk(ED, "ed-1"), _jwk(RSA, "rsa-2"))  # both published while rotating
    after = _verifier(_jwk(RSA, "rsa-2"))
    old, new = _token(ED, "ed-1", "EdDSA"), _token(RSA, "rsa-2", "RS256")
    assert before.verify(old).subject == "p-1"
    assert during.verify(old).subject == during.verify(new).subject == "p-1"
    assert after.verify(new).subject == "p-1"
    for verifier, token in ((before, new), (after, old)):
        with pytest.raises(AuthError) as refused:
            verifier.verify(token)
        assert (refused.value.http_status, refused.value.code) == (401, "token_invalid")


def test_an_rs256_token_against_a_bare_ed25519_key_is_401() -> None:
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=[ED.public_key()])
    with pytest.raises(AuthError) as refused:
        verifier.verify(_token(RSA, None, "RS256"))
    assert refused.value.code == "token_invalid"


@pytest.mark.parametrize(("token", "code"), [
    (lambda: _token(RSA_OTHER, "rsa-2", "RS256"), "token_invalid"),     # signed by another key
    (lambda: _token(RSA, "unknown-kid", "RS256"), "token_invalid"),
    (lambda: _token(RSA, "rsa-2", "RS256", exp=1), "token_expired"),
    (lambda: _token(RSA, "rsa-2", "RS256", iss="x"), "token_wrong_issuer"),
    (lambda: _token(RSA, "rsa-2", "RS256", aud="x"), "token_wrong_audience"),
    (lambda: _token(RSA, "rsa-2", "RS256", roles="admin"), "token_invalid"),
    (lambda: jwt.encode({"sub": "x"}, "secret", algorithm="HS256"), "token_invalid"),
    (lambda: "not.a.jwt", "token_invalid"),
    (lambda: "\u0000\uffff", "token_invalid"),
    (lambda: "e30." * 3, "token_invalid"),
    (lambda: "", "token_missing"),
])
def test_every_failure_is_401_with_a_code(token: Any, code: str) -> None:
    verifier = _verifier(_jwk(ED, "ed-1"), _jwk(RSA, "rsa-2"))
    with pytest.raises(AuthError) as refused:
        verifier.verify(token())
    assert (refused.value.http_status, refused.value.code) == (401, code)

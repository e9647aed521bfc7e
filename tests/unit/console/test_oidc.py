"""OpenID Connect sign-in (authorisation code + PKCE) against a tiny identity broker in-process."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt

from tests.unit.console.support import FakeServices, console_client

IDP = "http://idp:9009"


def _broker(fake: FakeServices, issued: dict[str, str]) -> None:
    fake.on("idp", "GET", "/.well-known/openid-configuration", {
        "issuer": IDP, "authorization_endpoint": f"{IDP}/authorize",
        "token_endpoint": f"{IDP}/token"})

    def token(request: httpx.Request) -> httpx.Response:
        form = {k: v[-1] for k, v in parse_qs(request.content.decode()).items()}
        challenge = base64.urlsafe_b64encode(hashlib.sha256(
            form.get("code_verifier", "").encode()).digest()).rstrip(b"=").decode()
        if form.get("code") != "the-code" or challenge != issued["challenge"] or \
                form.get("redirect_uri") != "http://127.0.0.1:8080/signin/callback":
            return httpx.Response(400, json={"error": "invalid_grant"})
        access = jwt.encode({"sub": "person-7", "roles": ["caseworker"]}, "k" * 32)
        id_token = jwt.encode({"sub": "person-7", "nonce": issued["nonce"]}, "k" * 32)
        return httpx.Response(200, json={"access_token": access, "id_token": id_token,
                                         "token_type": "Bearer"})

    fake.on("idp", "POST", "/token", token)


def _start(client, issued: dict[str, str]) -> dict[str, str]:  # type: ignore[no-untyped-def]
    answer = client.get("/signin/oidc?next=/pools", follow_redirects=False)
    assert answer.status_code == 303
    target = urlsplit(answer.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{IDP}/authorize"
    params = {k: v[-1] for k, v in parse_qs(target.query).items()}
    assert params["code_challenge_method"] == "S256" and params["response_type"] == "code"
    assert "SameSite=lax" in answer.headers["set-cookie"]  # it must come back from the broker
    issued.update(challenge=params["code_challenge"], nonce=params["nonce"])
    return params


def test_code_flow_with_pkce_signs_in_and_the_services_get_the_access_token(
        tmp_path: Path) -> None:
    fake, issued = FakeServices(), {}
    _broker(fake, issued)
    fake.on("assessment", "GET", "/pools", {"pools": []})
    client = console_client(tmp_path, fake, dev_signin=False, oidc_issuer=IDP,
                            oidc_client_id="grants-console")
    params = _start(client, issued)
    answer = client.get(f"/signin/callback?code=the-code&state={params['state']}")
    assert answer.status_code == 200 and 'href="/pools"' in answer.text  # moves on same-site
    assert "SameSite=strict" in answer.headers["set-cookie"]
    page = client.get("/pools")
    assert page.status_code == 200 and "person-7" in page.text
    sent = fake.seen[-1].headers["authorization"].removeprefix("Bearer ")
    assert jwt.decode(sent, options={"verify_signature": False})["sub"] == "person-7"
    assert sent not in page.text


def test_a_callback_with_another_state_or_a_wrong_verifier_signs_nobody_in(
        tmp_path: Path) -> None:
    fake, issued = FakeServices(), {}
    _broker(fake, issued)
    client = console_client(tmp_path, fake, dev_signin=False, oidc_issuer=IDP,
                            oidc_client_id="grants-console")
    params = _start(client, issued)
    assert client.get("/signin/callback?code=the-code&state=forged").status_code == 401
    issued["challenge"] = "not-the-verifiers"  # the broker refuses the exchange
    assert client.get(f"/signin/callback?code=the-code&state={params['state']}"
                      ).status_code == 401
    assert client.get("/pools", follow_redirects=False).status_code == 303
    assert client.get("/signin/callback?error=access_denied").status_code == 401

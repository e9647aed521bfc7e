"""The console's sign-in, sessions, CSRF and its first pages, against fake services."""

from __future__ import annotations

from pathlib import Path

import httpx
import jwt

from console.services import Refused
from console.texts import LANGUAGES, TEXTS, Catalogue, dkk
from servicekit.identity import DevTokenIssuer, TokenVerifier
from tests.unit.console.support import FakeServices, alert_of, console_client, csrf_of, sign_in

POOLS = {"pools": [{"pool_id": "fh-2022", "version": 1, "title": "Familiehuse 2022",
                    "programme": "familiehuse", "deadline_local": "2022-09-28T12:00:00",
                    "total_oere": 12_600_300_000, "sub_pools": []}]}


def test_pages_need_a_sign_in(tmp_path: Path) -> None:
    client = console_client(tmp_path, FakeServices())
    answer = client.get("/pools", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/signin?next=/pools"


def test_dev_sign_in_mints_a_token_the_services_verify_and_keeps_it_on_the_server(
        tmp_path: Path) -> None:
    fake = FakeServices()
    fake.on("assessment", "GET", "/pools", POOLS)
    client = console_client(tmp_path, fake)
    answer = sign_in(client, "sb-1", ("caseworker", "auditor"))
    assert answer.status_code == 303 and answer.headers["location"] == "/pools"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Secure" not in cookie  # loopback: a browser on this machine
    page = client.get("/pools")
    assert page.status_code == 200 and "Familiehuse 2022" in page.text
    sent = fake.seen[-1].headers["authorization"].removeprefix("Bearer ")
    # the token is the dev issuer's, with the chosen person and roles …
    issuer = DevTokenIssuer(tmp_path / "keys")
    verifier = TokenVerifier(issuer="grants-dev-issuer", audience="grants-platform",
                             keys=[k.key for k in jwt.PyJWKSet.from_json(issuer.jwks()).keys])
    who = verifier.verify(sent)
    assert who.subject == "sb-1" and who.roles == {"caseworker", "auditor"}
    # … and never reaches the browser: not in the cookie, not in the page
    assert sent not in cookie and sent not in page.text


def test_cookies_are_secure_outside_loopback(tmp_path: Path) -> None:
    client = console_client(tmp_path, FakeServices(), public_url="https://console.example")
    assert "Secure" in sign_in(client).headers["set-cookie"]


def test_a_post_without_the_csrf_token_is_refused_and_signs_nobody_in(tmp_path: Path) -> None:
    client = console_client(tmp_path, FakeServices())
    client.get("/signin")
    answer = client.post("/signin/dev", data={"subject": "sb-1", "roles": ["caseworker"]},
                         follow_redirects=False)
    assert answer.status_code == 403
    answer = client.post("/signin/dev", data={"csrf": "forged", "subject": "sb-1",
                                              "roles": ["caseworker"]}, follow_redirects=False)
    assert answer.status_code == 403
    assert client.get("/pools", follow_redirects=False).status_code == 303


def test_sign_in_is_refused_without_a_valid_person_or_role(tmp_path: Path) -> None:
    client = console_client(tmp_path, FakeServices())
    assert sign_in(client, "sb 1; drop", ("caseworker",)).status_code == 422
    assert sign_in(client, "sb-1", ()).status_code == 422
    assert sign_in(client, "sb-1", ("applicant",)).status_code == 422  # not a staff role


def test_dev_sign_in_is_off_unless_configured(tmp_path: Path) -> None:
    client = console_client(tmp_path, FakeServices(), dev_signin=False)
    assert "/signin/dev" not in client.get("/signin").text
    answer = client.post("/signin/dev", data={"csrf": "x", "subject": "sb-1",
                                              "roles": ["caseworker"]}, follow_redirects=False)
    assert answer.status_code == 404


def test_sign_out_ends_the_session(tmp_path: Path) -> None:
    fake = FakeServices()
    fake.on("assessment", "GET", "/pools", POOLS)
    client = console_client(tmp_path, fake)
    sign_in(client)
    page = client.get("/pools")
    old_cookie = client.cookies.get("grants_console_session")
    answer = client.post("/signout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert answer.status_code == 303
    assert client.get("/pools", follow_redirects=False).status_code == 303
    client.cookies.set("grants_console_session", old_cookie)  # the old id is dead too
    assert client.get("/pools", follow_redirects=False).status_code == 303


def test_a_refusal_is_shown_in_words_in_both_languages(tmp_path: Path) -> None:
    fake = FakeServices()
    fake.on("assessment", "GET", "/pools/nope", lambda _: httpx.Response(
        404, json={"error": "pool_not_published", "message": "pool 'nope' is not published"}))
    client = console_client(tmp_path, fake)
    sign_in(client)
    page = client.get("/pools/nope")
    assert page.status_code == 404
    assert alert_of(page.text) == ("Bedømmelsen afviste: Puljen er ikke offentliggjort "
                                   "[pool_not_published]")
    client.get("/language/en?next=/pools/nope", follow_redirects=False)
    page = client.get("/pools/nope")
    assert '<html lang="en">' in page.text
    assert alert_of(page.text) == ("Assessment refused: The pool is not published "
                                   "[pool_not_published]")


def test_the_language_switch_only_goes_back_to_this_site(tmp_path: Path) -> None:
    client = console_client(tmp_path, FakeServices())
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil"):
        answer = client.get(f"/language/en?next={target}", follow_redirects=False)
        assert answer.headers["location"] == "/"


def test_pool_page_shows_every_figure_of_each_sub_pool(tmp_path: Path) -> None:
    fake = FakeServices()
    fake.on("assessment", "GET", "/pools/p", {"pool_id": "p", "version": 2, "definition": {
        "title": "Pulje P", "deadline_local": None, "programme": "prog"}})
    fake.on("assessment", "GET", "/pools/p/overview", {"sub_pools": [
        {"region_code": "1084", "region": "Hovedstaden", "amount_oere": 200_000_000,
         "awarded_oere": 150_000_000, "remaining_oere": 50_000_000, "awards": 1,
         "applications": {"awarded": ["a"], "rejected": ["b"]}}]})
    fake.on("reporting", "GET", "/pools/p/overview", {"total": {}, "sub_pools": {"1084": {
        "accepted_oere": 150_000_000, "paid_oere": 75_000_000, "repaid_oere": 1_000_000}}})
    client = console_client(tmp_path, fake)
    sign_in(client)
    page = client.get("/pools/p").text
    for figure in ("2.000.000 kr.", "1.500.000 kr.", "750.000 kr.", "10.000 kr.", "500.000 kr."):
        assert figure in page
    assert 'aria-label="Hovedstaden: 1.500.000 kr. af 2.000.000 kr. bevilget"' in page
    assert 'width="75"' in page and 'width="38"' in page  # awarded 75 %, paid 37.5 %


def test_every_text_has_both_languages_and_every_reason_code_has_words() -> None:
    import grants.reason_codes

    for key, values in TEXTS.items():
        assert len(values) == len(LANGUAGES) and all(v.strip() for v in values), key
    codes = {code for _, table in grants.reason_codes.tables() for code in table}
    missing = {code for code in codes if Catalogue("da").reason(code) == code}
    assert not missing, f"reason codes without words in console/reason_texts.py: {missing}"


def test_money_is_written_the_way_each_language_writes_it() -> None:
    assert dkk(12_600_300_000, "da") == "126.003.000 kr."
    assert dkk(12_600_300_050, "en") == "DKK 126,003,000.50"
    assert dkk(-150, "da") == "-1,50 kr."
    assert str(Refused("payments", 403, "two_person_rule")).startswith("payments refused")


def test_every_text_a_template_names_is_in_the_catalogue() -> None:
    import re
    from pathlib import Path

    import console

    folder = Path(console.__file__).parent
    named = set()
    for path in [*folder.glob("templates/*.html"), *folder.glob("*.py")]:
        named |= set(re.findall(r"""\bt\(["']([a-z_.]+[a-z_])["']""", path.read_text()))
        named |= set(re.findall(r'ok="([a-z_.]+)"', path.read_text()))
    assert named and not named - set(TEXTS), sorted(named - set(TEXTS))

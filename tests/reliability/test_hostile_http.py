"""Issue 14: every HTTP write route of every service, attacked with generated bodies (hypothesis
over arbitrary JSON, with control characters, huge numbers and deep nesting mixed in), by a
caller holding every role. Pass: never a 5xx, and every refusal names a documented code (the
README's reason-code tables, ``grants.reason_codes``). A stand-in for schemathesis (not in the
dev extras): the routes are enumerated from each app as ``test_security_auth`` does.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, get_args

import pytest
from hypothesis import strategies as st

from contracts.base import Role
from grants import reason_codes
from grants.stack import drop_database
from servicekit.identity import DevTokenIssuer
from tests.infra import fast_join
from tests.infra.examples import drawn
from tests.infra.services import running_service
from tests.reliability.test_security_auth import BUILDS, _concrete_path, write_routes

pytestmark = [pytest.mark.integration,
              pytest.mark.filterwarnings("ignore:Do not use the `random` module")]
PER_ROUTE = 25
texts = st.text(st.characters(codec="utf-8"), max_size=30) | st.sampled_from(
    ["\u0000", "a\u0007b", "x" * 5000, "2022-09-28T12:00:00+02:00", str(uuid.uuid4())])
numbers = st.integers() | st.sampled_from([2**63, 10**30, -1, 0]) | st.floats(allow_nan=False)
values = st.recursive(st.none() | st.booleans() | numbers | texts,
                      lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(texts, inner, max_size=5), max_leaves=20)
bodies = values.map(lambda v: json.dumps(v).encode()) | st.sampled_from(
    [b"[" * 20_000, b"{", b"\xff\xfe", b""])


def _examples(n: int) -> list[bytes]:
    return drawn(bodies, n)


@pytest.mark.parametrize("service", sorted(BUILDS))
async def test_generated_bodies_never_get_a_5xx_and_every_refusal_has_a_documented_code(
        service: str, private_kafka: str, pg_url: str, tmp_path: Path) -> None:
    issuer = DevTokenIssuer(tmp_path / "keys")
    documented = {code for _, codes in reason_codes.tables() for code in codes}
    token = issuer.issue("p-1", sorted(set(get_args(Role))), cvr="29189846")
    db_name = f"hostile_{service}_{uuid.uuid4().hex[:8]}"
    failures: list[str] = []
    examples = _examples(PER_ROUTE)
    try:
        async with running_service(BUILDS[service], private_kafka, f"{pg_url}/{db_name}",
                                   issuer, name=service, simulation=True,
                                   **fast_join()) as (_, http):
            for method, template, route, _ in write_routes(service, http._transport.app):  # type: ignore[attr-defined]
                path = _concrete_path(template, route)
                for body in examples:
                    response = await http.request(method, path, content=body, headers={
                        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
                    where = f"{method} {template} {body[:60]!r}"
                    if response.status_code >= 500:
                        failures.append(f"{where}: {response.status_code} {response.text[:200]}")
                        continue
                    if response.status_code >= 400:
                        answer: Any = response.json()
                        code = answer.get("error") or (answer.get("status") and next(
                            (r["code"] for r in answer.get("reasons", [])), None))
                        if code not in documented:
                            failures.append(f"{where}: undocumented code {code!r}")
    finally:
        await drop_database(pg_url, db_name)
    assert not failures, "\n".join(failures[:30])

"""schemathesis against every service's OpenAPI, on the real broker and PostgreSQL (issues 14, 19).

Each service runs in this process on a live port, on a broker of the test's own (so its consumers
read only what this test causes), and gets requests generated from its own ``/openapi.json``:
positive and negative data with a token holding every role, and a few without a token or with
one signed by a key it does not trust (tests/infra/openapi_fuzz.py). Every answer must be
documented (status, content type, schema), never a 5xx, and every refusal must name a code of
the README's reason-code list; a token refusal is always 401. Afterwards the service is still
ready (consumers, relay), dead-lettered nothing and has published every event it accepted.

The console has no JSON API (HTML pages only, ``openapi_url=None``), so it is not fuzzed here.
"""

from __future__ import annotations

import asyncio
import importlib
import uuid

import pytest

from grants import reason_codes
from servicekit.identity import DevTokenIssuer
from servicekit.service import ServiceRuntime
from tests.infra.openapi_fuzz import ROLES, fuzz, live_http
from tests.infra.services import eventually, service_settings

pytestmark = pytest.mark.integration

SERVICES = ("intake", "assessment", "payments", "reporting")
CVR = "29189846"  # passes modulus 11
MAX_EXAMPLES = 10  # per operation, positive and negative each, with a valid token
UNAUTHENTICATED_EXAMPLES = 3  # per operation, without a token and with an untrusted one


def documented_codes() -> set[str]:
    return {code for _, codes in reason_codes.tables() for code in codes}


async def _published_everything(runtime: ServiceRuntime) -> bool:
    return not await runtime.pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")


@pytest.mark.parametrize("service", SERVICES)
async def test_openapi_fuzz(service: str, private_kafka: str, fresh_database: str,
                            tmp_path_factory: pytest.TempPathFactory) -> None:
    issuer = DevTokenIssuer(tmp_path_factory.mktemp(f"{service}-keys"))
    stranger = DevTokenIssuer(tmp_path_factory.mktemp(f"{service}-stranger"))
    build = importlib.import_module(f"services.{service}.app").build
    runtime, app = build(service_settings(
        private_kafka, fresh_database, f"{service}-fuzz-{uuid.uuid4().hex[:8]}",
        auth_public_key_file=issuer.public_key_file))
    tokens = {"valid": issuer.issue("fuzzer", list(ROLES), cvr=CVR),
              "missing": None,
              "untrusted": stranger.issue("fuzzer", list(ROLES), cvr=CVR)}
    async with live_http(app) as base:
        report = await asyncio.to_thread(
            fuzz, app.openapi(), base, tokens=tokens, documented=documented_codes(),
            max_examples=MAX_EXAMPLES, unauthenticated_examples=UNAUTHENTICATED_EXAMPLES)
        print(f"{service}: {report.summary()}")
        if report.findings:
            pytest.fail(f"{len(report.findings)} findings:\n" + "\n".join(
                str(f) for f in report.findings.values()), pytrace=False)
        # Nothing the run did stopped a consumer or the relay, or lost an accepted event.
        assert await runtime.not_ready() == {}
        assert all(c.started for c in runtime.consumers)
        assert sum(c.dead_lettered for c in runtime.consumers) == 0
        await eventually(lambda: _published_everything(runtime), timeout=30)
    assert report.statuses and not any(s >= 500 for s in report.statuses)

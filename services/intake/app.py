"""Wiring of the intake service: runtime, the portal and pools consumers, HTTP routes."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic.json_schema import models_json_schema

from contracts import topics
from contracts.intake import SubmitApplication
from servicekit.admission import ShedRoute
from servicekit.openapi import SCHEME as BEARER_SCHEME
from servicekit.service import ServiceRuntime
from servicekit.settings import ServiceSettings
from services.intake.console_api import console_router
from services.intake.handlers import pool_handler, portal_handler, raw_decoder
from services.intake.routes import Wiring, router
from services.intake.service import SubmissionBatcher
from services.intake.store import PoolCache
from services.intake.tokens import TokenCache

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: ServiceSettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    runtime = ServiceRuntime("intake", migrations=MIGRATIONS, settings=settings)
    group = runtime.settings.group_id
    # In memory: verified tokens (until their exp) and published pools (version-checked on use).
    tokens = TokenCache(lambda: runtime.verifier)
    pools = PoolCache()

    async def load_pools(rt: ServiceRuntime) -> None:
        async with rt.pool.acquire() as conn:
            await pools.load(conn)

    runtime.on_startup.append(load_pools)
    # At 12:00 on deadline day a portal is better served by a fast 503 and Retry-After than by
    # a receipt that comes after its own timeout (servicekit.admission).
    runtime.shed_routes.append(ShedRoute("POST", "/submissions"))
    # Portal content is judged by the domain, so its decoder never raises (nothing dead-letters
    # for bad content); pool events are platform events with the inbox as usual. Both consumers
    # hand over whole batches: the portal's is decided with set-based statements, and stored
    # pools reach the cache after their transaction commits.
    portal_group = f"{group}-portal"
    runtime.consume_batches(topics.PORTAL_SUBMISSIONS.name,
                            batch_handler=portal_handler(runtime, tokens, pools, portal_group),
                            decoder=raw_decoder, name=portal_group)
    runtime.consume_batches(topics.ASSESSMENT_POOLS.name,
                            batch_handler=pool_handler(pools, runtime.clock), name=group)
    app = runtime.http_app(router, console_router, title="Intake")
    app.state.intake = Wiring(runtime, tokens, pools, SubmissionBatcher(runtime, pools))
    _document_submission_body(app)
    return runtime, app


# Young-generation threshold of the cyclic GC (default 700): a request or a batch allocates
# thousands of objects that live until it is answered, and under load they were promoted into
# the older generations, which then filled up and were collected again and again.
GC_YOUNG_THRESHOLD = 50_000


async def settle_the_heap(_: ServiceRuntime) -> None:
    """Start-up hook of the service process (``__main__``; not of tests that build the app in
    their own process): move everything alive after start-up (modules, FastAPI and pydantic
    schemas, clients) out of the cyclic GC's reach, and collect the young generation less often.

    Under the HTTP burst with the defaults, intake ran 18 full collections in ~20 s, each one
    0.24–0.33 s with the event loop stopped, plus ~200 of the middle generation (~7 ms each):
    about a quarter of its CPU, and every queued request waited for them. Reference counting
    frees objects as before; only cyclic garbage waits longer, for a much smaller collection.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def _document_submission_body(app: FastAPI) -> None:
    """``POST /submissions`` reads its raw body (an invalid one is decided, not rejected by
    FastAPI), so its request schema, ``SubmitApplication``, is added to the OpenAPI by hand."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        _, defs = models_json_schema([(SubmitApplication, "validation")],
                                     ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, definition in defs.get("$defs", {}).items():
            components.setdefault(name, definition)
        # The token is checked in the handler (a refusal is a receipt), not by a dependency.
        schema["paths"]["/submissions"]["post"]["security"] = [{BEARER_SCHEME: []}]
        schema["paths"]["/submissions"]["post"]["requestBody"] = {
            "required": True,
            "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/SubmitApplication"}}},
        }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI documents replacing app.openapi

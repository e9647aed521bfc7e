"""Wiring of the intake service: runtime, the portal and pools consumers, HTTP routes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic.json_schema import models_json_schema

from contracts import topics
from contracts.intake import SubmitApplication
from servicekit.service import ServiceRuntime
from servicekit.settings import ServiceSettings
from services.intake.handlers import http_router, on_pool_event, portal_handler, raw_decoder

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: ServiceSettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    runtime = ServiceRuntime("intake", migrations=MIGRATIONS, settings=settings)
    group = runtime.settings.group_id
    # Portal content is judged by the domain, so its decoder never raises (nothing dead-letters
    # for bad content); pool events are platform events with the inbox as usual.
    runtime.consume(topics.PORTAL_SUBMISSIONS.name, handler=portal_handler(runtime),
                    decoder=raw_decoder, name=f"{group}-portal")
    runtime.consume(topics.ASSESSMENT_POOLS.name, handler=on_pool_event, name=group)
    app = runtime.http_app(http_router(runtime), title="Intake")
    _document_submission_body(app)
    return runtime, app


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
        schema["paths"]["/submissions"]["post"]["requestBody"] = {
            "required": True,
            "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/SubmitApplication"}}},
        }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

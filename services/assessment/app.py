"""Wiring of the assessment service: runtime, intake consumer, HTTP routes (pools, allocation, the
organisation register), the register files loaded at start-up, refusal mapping."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from contracts import topics
from servicekit.service import ServiceRuntime
from servicekit.settings import ServiceSettings
from services.assessment.handlers import intake_handler
from services.assessment import console_api, register_routes, routes
from services.assessment.register_routes import REGISTER_FILE_BODY, register_files_hook
from services.assessment.settings import AssessmentSettings, register_files_of

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: ServiceSettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    runtime = ServiceRuntime("assessment", migrations=MIGRATIONS,
                             settings=settings or AssessmentSettings(service_name="assessment"))
    runtime.consume_batches(topics.INTAKE_APPLICATIONS.name, topics.PAYMENTS_GRANTS.name,
                            batch_handler=intake_handler(runtime))
    runtime.on_startup.append(register_files_hook(register_files_of(runtime.settings)))
    runtime.body_rules.append(REGISTER_FILE_BODY)
    app = runtime.http_app(routes.router, register_routes.router, console_api.router,
                           title="Assessment", explain_refusal=routes.refusal_reasons)
    return runtime, app

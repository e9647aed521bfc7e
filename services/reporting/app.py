"""Wiring of the reporting service: runtime, the consumer of its input topics, HTTP routes."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from contracts import topics
from servicekit.service import ServiceRuntime
from servicekit.settings import ServiceSettings
from services.reporting import console_api
from services.reporting.handlers import event_handler, scheduled_rules
from services.reporting.routes import router
from services.reporting.settings import ReportingSettings

MIGRATIONS = Path(__file__).parent / "migrations"
INPUT_TOPICS = (
    topics.INTAKE_APPLICATIONS, topics.ASSESSMENT_POOLS, topics.ASSESSMENT_DECISIONS,
    topics.PAYMENTS_GRANTS, topics.PAYMENTS_INSTRUCTIONS, topics.FINANCE_RESULTS,
    # kept (not folded) so an application's timeline holds every event about it: the
    # exceptions and the eligibility and scores (services/reporting/console_api.py)
    topics.INTAKE_EXCEPTIONS, topics.ASSESSMENT_ASSESSMENTS,
)


def build(settings: ServiceSettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    runtime = ServiceRuntime("reporting", migrations=MIGRATIONS,
                             settings=settings or ReportingSettings(service_name="reporting"))
    runtime.consume(*(t.name for t in INPUT_TOPICS), handler=event_handler(runtime))
    scheduled_rules(runtime)
    # Refusals (contracts.refusal.Refusal) are answered by servicekit.http by their kind.
    app = runtime.http_app(router, console_api.router, title="Reporting")
    return runtime, app

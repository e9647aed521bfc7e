"""Wiring of the payments service: runtime, the consumer of its three input topics, HTTP routes."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from contracts import topics
from servicekit.service import ServiceRuntime
from servicekit.settings import ServiceSettings
from services.payments.handlers import event_handler
from services.payments import money_routes, routes, start_check, withdrawal
from services.payments.scheduled import scheduled_rules

MIGRATIONS = Path(__file__).parent / "migrations"
INPUT_TOPICS = (topics.ASSESSMENT_DECISIONS, topics.FINANCE_RESULTS, topics.REPORTING_REPORTS)


def build(settings: ServiceSettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    runtime = ServiceRuntime("payments", migrations=MIGRATIONS, settings=settings)
    runtime.consume(*(t.name for t in INPUT_TOPICS), handler=event_handler(runtime))
    scheduled_rules(runtime)
    start_check.start_check_rules(runtime)
    app = runtime.http_app(routes.router, withdrawal.router, start_check.router,
                           money_routes.router, title="Payments")
    return runtime, app

"""Reporting's settings beyond servicekit's (environment ``GRANTS_*``; read when built)."""

from __future__ import annotations

from servicekit.settings import ServiceSettings
from services.reporting.domain.exports import DEFAULT_FUNDER_ID


class ReportingSettings(ServiceSettings):
    # The agency's organisation identifier in the 360Giving exports (R24).
    funder_id: str = DEFAULT_FUNDER_ID


def funder_id_of(settings: ServiceSettings) -> str:
    """The funder id of ``settings`` (plain ServiceSettings, e.g. in tests, use the default)."""
    return getattr(settings, "funder_id", DEFAULT_FUNDER_ID)

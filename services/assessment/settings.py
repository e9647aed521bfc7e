"""Assessment's settings beyond servicekit's (environment ``GRANTS_*``; read when built)."""

from __future__ import annotations

from pathlib import Path

from servicekit.settings import ServiceSettings


class AssessmentSettings(ServiceSettings):
    # Organisation register files loaded at start-up, comma-separated paths: each is its own
    # source (the file name without extension), versioned by content, so a restart with the same
    # files changes nothing. ``.csv``: the project's format; ``.jsonl``: the CVR register's
    # system-to-system export (see services/assessment/domain/register.py).
    register_files: str = ""


def register_files_of(settings: ServiceSettings) -> list[Path]:
    """The register files ``settings`` name (plain ServiceSettings, e.g. in tests: none)."""
    value = getattr(settings, "register_files", "")
    return [Path(p.strip()) for p in value.split(",") if p.strip()]

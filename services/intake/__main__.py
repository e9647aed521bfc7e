"""``python -m services.intake``: the intake service (settings from ``GRANTS_*``)."""

from fastapi import FastAPI

from servicekit.service import serve
from services.intake.app import build, settle_the_heap


def app() -> FastAPI:
    """One worker's app (``GRANTS_HTTP_WORKERS``: each worker process builds its own)."""
    runtime, built = build()
    runtime.on_startup.append(settle_the_heap)
    return built


def main() -> None:
    serve("services.intake.__main__:app")


if __name__ == "__main__":
    main()

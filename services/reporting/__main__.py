"""``python -m services.reporting``: the reporting service (settings from ``GRANTS_*``; HTTP on
``GRANTS_HTTP_PORT``)."""

from fastapi import FastAPI

from servicekit.service import serve
from services.reporting.app import build


def app() -> FastAPI:
    """One worker's app (``GRANTS_HTTP_WORKERS``: each worker process builds its own)."""
    return build()[1]


def main() -> None:
    serve("services.reporting.__main__:app")


if __name__ == "__main__":
    main()

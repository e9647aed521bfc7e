"""``python -m services.payments``: the payments service (settings from ``GRANTS_*``; HTTP on
``GRANTS_HTTP_PORT``)."""

from fastapi import FastAPI

from servicekit.service import serve
from services.payments.app import build


def app() -> FastAPI:
    """One worker's app (``GRANTS_HTTP_WORKERS``: each worker process builds its own)."""
    return build()[1]


def main() -> None:
    serve("services.payments.__main__:app")


if __name__ == "__main__":
    main()

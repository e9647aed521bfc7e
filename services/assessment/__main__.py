"""``python -m services.assessment``: the assessment service (settings from ``GRANTS_*``)."""

from fastapi import FastAPI

from servicekit.service import serve
from services.assessment.app import build


def app() -> FastAPI:
    """One worker's app (``GRANTS_HTTP_WORKERS``: each worker process builds its own)."""
    return build()[1]


def main() -> None:
    serve("services.assessment.__main__:app")


if __name__ == "__main__":
    main()

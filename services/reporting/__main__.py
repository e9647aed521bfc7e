"""``python -m services.reporting``: the reporting service (settings from ``GRANTS_*``; HTTP on
``GRANTS_HTTP_PORT``)."""

from services.reporting.app import build


def main() -> None:
    runtime, app = build()
    runtime.run(app)


if __name__ == "__main__":
    main()

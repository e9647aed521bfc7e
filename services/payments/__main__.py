"""``python -m services.payments``: the payments service (settings from ``GRANTS_*``; HTTP on
``GRANTS_HTTP_PORT``)."""

from services.payments.app import build


def main() -> None:
    runtime, app = build()
    runtime.run(app)


if __name__ == "__main__":
    main()

"""``python -m services.intake``: the intake service (settings from ``GRANTS_*``)."""

from services.intake.app import build


def main() -> None:
    runtime, app = build()
    runtime.run(app)


if __name__ == "__main__":
    main()

"""``python -m services.intake``: the intake service (settings from ``GRANTS_*``)."""

from services.intake.app import build, settle_the_heap


def main() -> None:
    runtime, app = build()
    runtime.on_startup.append(settle_the_heap)
    runtime.run(app)


if __name__ == "__main__":
    main()

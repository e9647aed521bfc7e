"""``python -m services.assessment``: the assessment service (settings from ``GRANTS_*``)."""

from services.assessment.app import build


def main() -> None:
    runtime, app = build()
    runtime.run(app)


if __name__ == "__main__":
    main()

"""``python -m console``: the staff's web console on GRANTS_CONSOLE_HTTP_HOST:PORT."""

from __future__ import annotations

import uvicorn

from console.app import build
from console.settings import ConsoleSettings


def main() -> None:
    settings = ConsoleSettings()
    uvicorn.run(build(settings), host=settings.http_host, port=settings.http_port,
                log_level="warning", lifespan="on")


if __name__ == "__main__":
    main()

"""The bare HTTP peer (anchor of figure 2): ``POST /submissions`` that verifies the token,
validates ``SubmitApplication`` and answers a receipt — no database, no outbox, no events.

``python -m bench.peer_http PORT PUBLIC_KEY_FILE``; uvicorn with the same options as a service.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request

from contracts.intake import Receipt, SubmitApplication
from servicekit.http import authenticate
from servicekit.identity import TokenVerifier


def main() -> None:
    port, key_file = int(sys.argv[1]), Path(sys.argv[2])
    from servicekit.settings import ServiceSettings
    verifier = TokenVerifier.from_settings(ServiceSettings(auth_public_key_file=key_file))
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/submissions")
    async def submit(body: SubmitApplication, request: Request) -> Receipt:
        authenticate(request, verifier, "applicant")
        now = datetime.now(UTC)
        return Receipt(submission_id=body.submission_id, application_id=body.application_id,
                       version=1, received_at=now, received_at_local=now.isoformat(),
                       status="on_time")

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()

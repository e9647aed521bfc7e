"""A stand-in service process for testing the supervisor: ``/health`` and ``/env`` over HTTP.

Reads the same environment as a real service. A service name starting with ``crash`` exits at
once with status 3 (to test start-up failure reporting).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # http.server's naming
        if self.path == "/health":
            body = b'{"status":"ok"}'
        elif self.path == "/env":
            env = {k: v for k, v in os.environ.items() if k.startswith("GRANTS_")}
            body = json.dumps({"pid": os.getpid(), "env": env}).encode()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    name = os.environ["GRANTS_SERVICE_NAME"]
    if name.startswith("crash"):
        print(f"{name}: configuration error, giving up", flush=True)
        sys.exit(3)
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["GRANTS_HTTP_PORT"])), Handler)

    def stop(signum: int, _frame: object) -> None:
        print(f"{name}: got signal {signum}, stopping", flush=True)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"{name}: listening on {server.server_address}", flush=True)
    try:
        server.serve_forever(poll_interval=0.05)
    finally:
        server.server_close()


if __name__ == "__main__":
    main()

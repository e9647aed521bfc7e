"""The staff's web console as a process of the embedded stack (``python -m console``).

It gets the services' addresses, the dev sign-in (the stack's dev issuer key, so the tokens it
mints are the ones the services trust) and the auditors' replay command; ``grants stack status``
prints its address. It talks to the services over HTTP only.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from grants.stack._proc import LOOPBACK, free_port, process_start_time, tail

if TYPE_CHECKING:
    from grants.stack.supervisor import ServiceProcess, StackState

REPO_ROOT = Path(__file__).resolve().parents[2]


def console_available() -> bool:
    return (REPO_ROOT / "console" / "__main__.py").is_file()


def console_env(state: StackState, port: int) -> dict[str, str]:
    env = dict(os.environ)
    url = f"http://{LOOPBACK}:{port}"
    env.update(
        GRANTS_CONSOLE_HTTP_HOST=LOOPBACK, GRANTS_CONSOLE_HTTP_PORT=str(port),
        GRANTS_CONSOLE_PUBLIC_URL=url, GRANTS_CONSOLE_DEV_SIGNIN="1",
        GRANTS_CONSOLE_DEV_KEY_DIR=str(state.home / "keys"),
        GRANTS_CONSOLE_WORK_DIR=str(state.home / "console"),
        # The auditors' replay is the CLI's, against this stack (it reads the log itself).
        GRANTS_CONSOLE_REPLAY_COMMAND=shlex.join([sys.executable, "-m", "grants.cli", "audit",
                                                  "replay"]),
        GRANTS_HOME=str(state.home), PYTHONUNBUFFERED="1",
    )
    for name, svc in state.services.items():
        env[f"GRANTS_CONSOLE_{name.upper()}_URL"] = svc.http_url
    return env


def start_console(state: StackState, log_path: Path, popens: dict[int, Any],
                  echo: Callable[[str], None], timeout: float) -> ServiceProcess | None:
    from grants.stack.supervisor import ServiceProcess, StackError

    if not console_available():
        return None
    port = free_port()
    with log_path.open("ab") as log:
        popen = subprocess.Popen([sys.executable, "-m", "console"], cwd=REPO_ROOT,
                                 env=console_env(state, port), stdin=subprocess.DEVNULL,
                                 stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    popens[popen.pid] = popen
    url = f"http://{LOOPBACK}:{port}"
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0) as client:
        while True:
            if popen.poll() is not None:
                raise StackError(f"the console exited during start-up; last lines of "
                                 f"{log_path}:\n{tail(log_path)}")
            try:
                if client.get(f"{url}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise StackError(f"the console is not healthy after {timeout:.0f}s; last lines "
                                 f"of {log_path}:\n{tail(log_path)}")
            time.sleep(0.1)
    echo(f"console up at {url}")
    return ServiceProcess(name="console", pid=popen.pid, started_at=process_start_time(popen.pid),
                          http_port=port, http_url=url, log_path=log_path)

"""Several HTTP worker processes on one port (``GRANTS_HTTP_WORKERS``, issue 22 item 1).

Intake runs live with two workers: uvicorn's supervisor binds the port once and each worker
process builds a whole instance of the service. Proves, on the real broker and PostgreSQL:
- both workers accept on the one port (two distinct pids answer ``/health/live`` over fresh
  connections), and both are children of the process the stack started;
- submissions sent over fresh connections, so both workers take some, are each received once:
  every receipt is 200, and the intake topic holds exactly one ``ApplicationReceived`` per
  application (one relay publishes for both workers, under its advisory lock);
- a worker killed with SIGKILL is started again by the supervisor and the port keeps answering.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.common import Tokens, applicants, bench_pool, publish_pool_event
from bench.common import submission as bench_submission
from contracts import topics
from servicekit.service import WorkersRefused, serve
from servicekit.settings import ServiceSettings
from tests.infra import TLS
from tests.infra.services import read_topic
from tests.reliability.lifecycle import fault_stack

pytestmark = pytest.mark.integration
N = 120


def fresh_get(url: str) -> httpx.Response:
    """One request on a connection of its own, so the kernel hands it to any worker."""
    with httpx.Client(timeout=10, verify=TLS) as http:
        return http.get(url)


def worker_pids(url: str, want: int, timeout: float = 90) -> set[int]:
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    while len(seen) < want and time.monotonic() < deadline:
        try:
            seen.add(int(fresh_get(f"{url}/health/live").json()["pid"]))
        except httpx.HTTPError:
            time.sleep(0.05)
    return seen


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def test_simulation_refuses_several_workers() -> None:
    settings = ServiceSettings(simulation=True, http_workers=2)
    with pytest.raises(WorkersRefused, match="one worker in simulation mode"):
        serve("services.intake.__main__:app", settings)


def test_two_workers_share_the_port_and_receive_each_submission_once() -> None:
    with fault_stack(["intake"], GRANTS_HTTP_WORKERS="2") as (_st, state):
        svc = state.services["intake"]
        pids = worker_pids(svc.http_url, 2)
        assert len(pids) == 2, f"only {pids} answered on the shared port"
        assert {parent_of(p) for p in pids} == {svc.pid}

        pool_id = f"workers-{uuid.uuid4().hex[:6]}"
        asyncio.run(publish_pool_event(state.kafka_bootstrap, bench_pool(pool_id)))
        tokens = Tokens(state.home)
        people = applicants()
        bodies = [bench_submission(pool_id, people[i % len(people)], i) for i in range(N)]

        def post(i: int, body: dict[str, Any] | None = None) -> httpx.Response:
            a = people[i % len(people)]
            with httpx.Client(timeout=30, verify=TLS) as http:
                return http.post(f"{svc.http_url}/submissions",
                                 content=json.dumps(body or bodies[i]),
                                 headers={"Authorization": f"Bearer {tokens.applicant(a.cvr)}",
                                          "Content-Type": "application/json"})

        # The pool reaches the worker holding the pools partition; any worker then finds it in
        # the database. Until then a submission is refused (pool unknown), and that refusal is
        # its receipt: sent again, the same submission gets the same answer. So the wait probes
        # with submissions of their own (applications not among the N counted below).
        probe = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            probe = post(0, bench_submission(pool_id, people[0], N))  # fresh ids each time
            if probe.status_code == 200:
                break
            time.sleep(0.2)
        assert probe is not None and probe.status_code == 200, probe.text if probe else None
        answers = [post(i) for i in range(N)]
        assert Counter(r.status_code for r in answers) == Counter({200: N}), \
            [r.text for r in answers if r.status_code != 200][:3]

        wanted = {b["application_id"].encode() for b in bodies}
        received = asyncio.run(read_topic(
            state.kafka_bootstrap, topics.INTAKE_APPLICATIONS.name,
            lambda r: r.key in wanted and dict(r.headers).get("event_type")
            == b"ApplicationReceived",
            enough=lambda rs: len({r.key for r in rs}) >= N, timeout=60))
        per_app = Counter(r.key for r in received)
        assert set(per_app) == wanted
        assert max(per_app.values()) == 1, "an application was received twice"

        victim = sorted(pids)[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 90
        now: set[int] = set()
        while time.monotonic() < deadline:
            now = worker_pids(svc.http_url, 2, timeout=5)
            if len(now) == 2 and victim not in now:
                break
        assert len(now) == 2 and victim not in now, \
            f"the killed worker {victim} was not replaced: {now} answer"
        assert fresh_get(f"{svc.http_url}/health").status_code == 200

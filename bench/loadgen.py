"""An open-loop HTTP/1.1 load generator on raw asyncio streams (loopback only).

Request *i* is due at ``t0 + i / rate`` whatever happened to earlier ones; its latency is measured
from that due time, so a slow server cannot slow the generator down and hide its own queueing
(no coordinated omission). Keep-alive connections are reused (never one idle for more than
``MAX_IDLE_S``); a new one is opened when all are busy, up to ``max_connections`` (then a
request waits for one, and that wait counts). Bounded: exactly ``len(requests)`` requests, and
whatever is unanswered ``drain_s`` after the last is due is cancelled and counted as a timeout
error.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class BurstResult:
    sent: int = 0
    ok: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    shed: int = 0  # 503 overloaded: refused fast by admission control, not an error
    duration_s: float = 0.0
    connections: int = 0
    late_starts: int = 0  # requests the generator itself started > 5 ms after their due time
    last_answer_s: float = 0.0  # since the first request was due

    def percentile(self, p: float) -> float | None:
        if not self.latencies_ms:
            return None
        xs = sorted(self.latencies_ms)
        k = min(len(xs) - 1, max(0, round(p / 100 * len(xs) + 0.5) - 1))
        return xs[k]

    def summary(self) -> dict[str, Any]:
        return {
            "sent": self.sent, "ok": self.ok, "errors": sum(self.errors.values()),
            "shed": self.shed, "shed_share": self.shed / self.sent if self.sent else None,
            "error_kinds": dict(self.errors), "statuses": dict(self.statuses),
            "p50_ms": self.percentile(50), "p90_ms": self.percentile(90),
            "p99_ms": self.percentile(99), "p999_ms": self.percentile(99.9),
            "max_ms": max(self.latencies_ms) if self.latencies_ms else None,
            "achieved_per_s": self.sent / self.duration_s if self.duration_s else None,
            "connections": self.connections, "late_starts": self.late_starts,
            "answered_per_s": self.ok / self.last_answer_s if self.last_answer_s else None,
        }


SHED_STATUS = 503  # servicekit.admission: at capacity, retry after Retry-After

# uvicorn closes a keep-alive connection idle for 5 s; a connection idle longer than this is
# dropped instead of reused (a client reusing it would see the server's close, not an answer).
MAX_IDLE_S = 4.0


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


def build_request(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
             f"Content-Length: {len(body)}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _exchange(conn: _Conn, request: bytes) -> tuple[int, bool]:
    """Send one request, read one response; returns (status, keep_alive)."""
    conn.writer.write(request)
    head = await conn.reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    keep = True
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "connection" and value.strip().lower() == "close":
            keep = False
        elif name == "transfer-encoding":
            raise RuntimeError("chunked responses are not supported by this generator")
    if length:
        await conn.reader.readexactly(length)
    return status, keep


async def burst(host: str, port: int, requests: list[bytes], rate: float, *,
                ok_statuses: frozenset[int] = frozenset({200}), max_connections: int = 512,
                request_timeout_s: float = 10.0, drain_s: float = 15.0) -> BurstResult:
    loop = asyncio.get_running_loop()
    result = BurstResult()
    idle: list[_Conn] = []
    slots = asyncio.Semaphore(max_connections)

    async def one(request: bytes, due: float) -> None:
        async with slots:
            conn = None
            while idle and conn is None:
                conn = idle.pop()
                if loop.time() - conn.idle_since > MAX_IDLE_S:
                    conn.close()
                    conn = None
            try:
                if conn is None:
                    reader, writer = await asyncio.open_connection(host, port)
                    conn = _Conn(reader, writer)
                    result.connections += 1
                status, keep = await asyncio.wait_for(_exchange(conn, request), request_timeout_s)
            except Exception as exc:  # noqa: BLE001 - every failure is counted, by kind
                result.errors[type(exc).__name__] += 1
                if conn is not None:
                    conn.close()
                return
            latency = (loop.time() - due) * 1000
            result.statuses[str(status)] += 1
            if status in ok_statuses:
                result.ok += 1
                result.last_answer_s = max(result.last_answer_s, loop.time() - t0)
                result.latencies_ms.append(latency)
            elif status == SHED_STATUS:
                result.shed += 1
            else:
                result.errors[f"http_{status}"] += 1
            if keep:
                conn.idle_since = loop.time()
                idle.append(conn)
            else:
                conn.close()

    tasks: list[asyncio.Task[None]] = []
    t0 = loop.time() + 0.05
    start = time.perf_counter()
    for i, request in enumerate(requests):
        due = t0 + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.005:
            result.late_starts += 1
        tasks.append(asyncio.create_task(one(request, due)))
        result.sent += 1
    result.duration_s = time.perf_counter() - start
    _, pending = await asyncio.wait(tasks, timeout=drain_s) if tasks else (set(), set())
    for t in pending:
        t.cancel()
        result.errors["timeout_unanswered"] += 1
    await asyncio.gather(*pending, return_exceptions=True)
    for conn in idle:
        conn.close()
    return result

"""The figures of issue #8, each measured side by side with its anchor in the same run."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import anchors, loadgen
from bench.common import (
    REPO,
    CpuMeter,
    Figure,
    RssSampler,
    Tokens,
    TopicCounter,
    bench_pool,
    header,
    mib,
    missing,
    publish_pool_event,
    pools_reached_intake,
    register_envelopes,
    portal_messages,
    produce_fast,
    producer,
    ratio,
    services_missing,
    stack,
)
from bench.profiling import profile
from contracts import topics


@dataclass
class Sizes:
    raw_n: int
    relay_n: int
    intake_n: int
    burst_rate: int
    burst_s: float
    lifecycle_n: int
    replay_n: int
    replay_small_n: int = 100_000  # figure 4's second size: how replay memory grows with events
    # figure 7: allocation and replay at three sizes each (bench/growth.py)
    growth_allocation: tuple[int, ...] = (1_000, 10_000, 50_000)
    growth_replay: tuple[int, ...] = (100_000, 1_000_000, 3_000_000)
    warmup: int = 300
    lifecycle_timeout_s: float = 300.0  # submissions, 2 scores each, allocation, decisions
    intake_timeout_s: float = 90.0
    peer_burst_s: float = 10.0     # the bare HTTP peer's run (the anchor) at the same rate
    burst_drain_s: float = 15.0    # unanswered this long after the last request: errors

    @classmethod
    def full(cls) -> Sizes:
        return cls(raw_n=200_000, relay_n=5_000, intake_n=10_000, burst_rate=1000, burst_s=30,
                   lifecycle_n=10_000, replay_n=1_000_000)

    @classmethod
    def quick(cls) -> Sizes:
        return cls(raw_n=50_000, relay_n=2_000, intake_n=3_000, burst_rate=1000, burst_s=5,
                   lifecycle_n=1_000, replay_n=100_000, replay_small_n=20_000, warmup=200,
                   growth_allocation=(200, 600, 1_800), growth_replay=(20_000, 60_000, 180_000),
                   lifecycle_timeout_s=120,
                   intake_timeout_s=30, peer_burst_s=5, burst_drain_s=5)


@dataclass
class Run:
    sizes: Sizes
    echo: Any
    figures: dict[str, Figure] = field(default_factory=dict)
    # peak RSS per service process over figures 1-3, and the bare peers' (the memory anchor)
    service_rss: dict[str, int] = field(default_factory=dict)
    peer_rss: dict[str, int] = field(default_factory=dict)
    relay_rates: list[float] = field(default_factory=list)
    logs: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-logs-")))

    def keep_rss(self, sampler: RssSampler) -> None:
        for name, peak in sampler.peak.items():
            self.service_rss[name] = max(self.service_rss.get(name, 0), peak)


# -- helpers ---------------------------------------------------------------------------------------

def _health(url: str) -> dict[str, Any]:
    return httpx.get(f"{url}/health", timeout=5).json()


async def _wait_consumed(url: str, consumer: str, at_least: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() < deadline:
            body = (await client.get(f"{url}/health")).json()
            if body["consumers"].get(consumer, {}).get("processed", 0) >= at_least:
                return
            await asyncio.sleep(0.05)
    raise TimeoutError(f"{consumer} did not process {at_least} records in {timeout}s")


async def _census(bootstrap: str, topic_names: list[str], keys: set[bytes]) -> dict[str, int]:
    """Event types on ``topic_names`` for ``keys`` (diagnostics after a miss)."""
    seen: dict[str, int] = {}

    def match(r: Any) -> bool:
        if r.key in keys:
            t = (header(r, "event_type") or b"?").decode()
            seen[t] = seen.get(t, 0) + 1
        return False

    counter = TopicCounter(bootstrap, topic_names, match)
    await counter.start()
    await asyncio.sleep(3)
    await counter.stop()
    return seen


def _is(event_type: bytes):
    return lambda r: header(r, "event_type") == event_type


# -- anchor (a): raw broker --------------------------------------------------------------------------

def fig_raw(run: Run) -> Figure:
    from grants.stack import start_broker
    fig = Figure("raw", "(a) raw broker: aiokafka send() / consume, ~1 KB", unit="msg/s",
                 target="reference (~60k send, 140–170k consume)")
    broker = start_broker(die_with_parent=True)
    try:
        r = asyncio.run(anchors.raw_broker(broker.bootstrap, run.sizes.raw_n))
    finally:
        broker.stop()
    fig.value = r["send_per_s"]
    fig.anchor_name = "consume"
    fig.anchor_value = r["consume_per_s"]
    fig.anchor_unit = "msg/s"
    fig.ratio = ratio(r["send_per_s"], 60_700)
    fig.ratio_label = "send vs INFRA-NOTES 60.7k"
    fig.details = r
    fig.notes.append(f"{r['n']:,} × {r['size']} B, 3 partitions, acks=all; consume vs "
                     f"INFRA-NOTES 140–171k: ×{r['consume_per_s'] / 155_000:.2f}")
    run.figures["raw"] = fig
    return fig


# -- figures 1 and 2: intake ------------------------------------------------------------------------

INTAKE_TARGET = "≥ 2× bare relay and ≥ 5,000/s"
BURST_TARGET = "p99 < 50 ms, 0 errors"


def figs_intake(run: Run, want: set[str]) -> None:
    gone = services_missing(["intake"])
    if gone:
        if "intake" in want:
            run.figures["intake"] = missing("intake", "1 intake capacity (portal topic)",
                                            INTAKE_TARGET, gone)
        if "burst" in want:
            run.figures["burst"] = missing("burst", "2 deadline burst (HTTP)", BURST_TARGET, gone)
        return
    run.echo("figures 1–2: starting a stack with intake")
    sampler = RssSampler()
    try:
        with stack(["intake"], echo=lambda m: None) as (_st, state), sampler:
            sampler.watch("intake", state.services["intake"].pid)
            tokens = Tokens(state.home)
            pool_id = f"bench-intake-{uuid.uuid4().hex[:6]}"
            asyncio.run(publish_pool_event(state.kafka_bootstrap, bench_pool(pool_id)))
            asyncio.run(_wait_consumed(state.services["intake"].http_url, "grants-intake",
                                       len(register_envelopes()) + 1))
            if "intake" in want:
                run.figures["intake"] = _fig_intake(run, state, tokens, pool_id)
            if "burst" in want:
                run.figures["burst"] = _fig_burst(run, state, tokens, pool_id, sampler)
    except Exception as exc:  # noqa: BLE001 - a broken figure is reported, the run goes on
        for key in ("intake", "burst"):
            if key in want and key not in run.figures:
                run.figures[key] = Figure(key, key, status=f"error: {exc!r}"[:300])
    run.keep_rss(sampler)
    if any(run.figures.get(k) and run.figures[k].value is not None for k in want):
        _scale_out(run, want)


def _scale_out(run: Run, want: set[str], workers: int = 2) -> None:
    """Figures 1 and 2 again on a fresh stack whose intake runs ``workers`` HTTP worker
    processes: each a whole intake instance, so they also share the portal topic's partitions in
    one consumer group. Reported as the scaling ratio against the one-process run."""
    run.echo(f"figures 1–2: a stack with intake on {workers} worker processes")
    sampler = RssSampler()
    try:
        with stack(["intake"], echo=lambda m: None,
                   env={"GRANTS_HTTP_WORKERS": str(workers)}) as (_st, state), sampler:
            svc = state.services["intake"]
            sampler.watch(f"intake ×{workers}", svc.pid)
            tokens = Tokens(state.home)
            pool_id = f"bench-scale-{uuid.uuid4().hex[:6]}"
            asyncio.run(publish_pool_event(state.kafka_bootstrap, bench_pool(pool_id)))
            asyncio.run(_workers_ready(svc.http_url, workers, pool_id, tokens))
            assert state.broker is not None and state.postgres is not None
            infra = {"broker": state.broker.pid, "postgres": state.postgres.pid}
            one = run.figures.get("intake")
            if "intake" in want and one is not None and one.value is not None:
                r = _intake_pipe(run, state, tokens, pool_id, infra, f"fig1-intake-x{workers}")
                scale = ratio(r["per_s"], one.value)
                one.details[f"workers_{workers}"] = {**r, "scaling": scale}
                ic = r["cpu_ms_per_msg"]
                one.notes.append(
                    f"{workers} worker processes: {r['per_s']:,.0f} subm/s, scaling "
                    f"×{scale or 0:.2f} of 1 process; CPU ms/msg intake {ic['intake']:.2f} + "
                    f"postgres {ic['postgres']:.2f} + broker {ic['broker']:.2f}"
                    + ("" if r["done"] else f"; timeout {r['got']:,}/{run.sizes.intake_n:,}"))
            two = run.figures.get("burst")
            if "burst" in want and two is not None and two.value is not None:
                rs = _intake_burst(run, state, tokens, pool_id, f"fig2-intake-x{workers}")
                two.details[f"workers_{workers}"] = {**rs, "p99_scaling":
                                                     ratio(two.value, rs["p99_ms"])}
                two.notes.append(
                    f"{workers} worker processes: p50 {_ms(rs['p50_ms'])}, p99 "
                    f"{_ms(rs['p99_ms'])}, max {_ms(rs['max_ms'])}; {rs['ok']:,} answered, shed "
                    f"{rs['shed']:,} ({rs['shed_share'] or 0:.1%}), errors {rs['errors']:,}")
    except Exception as exc:  # noqa: BLE001 - the one-process figures stand; say what broke
        for key in ("intake", "burst"):
            if key in run.figures:
                run.figures[key].notes.append(f"{workers} workers: error {exc!r}"[:300])
    run.keep_rss(sampler)


async def _workers_ready(url: str, workers: int, pool_id: str, tokens: Tokens,
                         timeout: float = 90) -> None:
    """Every worker answers (distinct pids over fresh connections) and the pool is known: a
    probe submission of its own (never one measured) gets its receipt. A refusal is the probe's
    receipt too, so each try is a fresh application."""
    from bench.common import applicants, submission
    deadline = time.monotonic() + timeout
    pids: set[int] = set()
    people = applicants()
    probe = 9 * 10**6
    while time.monotonic() < deadline:
        async with httpx.AsyncClient(timeout=5) as http:  # a new connection: any worker
            try:
                pids.add(int((await http.get(f"{url}/health/live")).json()["pid"]))
                if len(pids) >= workers:
                    probe += 1
                    a = people[probe % len(people)]
                    resp = await http.post(
                        f"{url}/submissions", json=submission(pool_id, a, probe),
                        headers={"Authorization": f"Bearer {tokens.applicant(a.cvr)}"})
                    if resp.status_code == 200:
                        return
            except httpx.HTTPError:
                pass
        await asyncio.sleep(0.1)
    raise TimeoutError(f"intake workers not ready: {len(pids)}/{workers} answered")


def _fig_intake(run: Run, state: Any, tokens: Tokens, pool_id: str) -> Figure:
    s = run.sizes
    fig = Figure("intake", "1 intake capacity (portal topic → ApplicationReceived)",
                 unit="subm/s", anchor_name="bare FastStream relay", anchor_unit="msg/s",
                 ratio_label="× bare relay", target=INTAKE_TARGET)
    bs = state.kafka_bootstrap
    relay_msgs = portal_messages(pool_id, tokens, s.warmup + s.relay_n)
    run.echo(f"  anchor: bare relay, {s.relay_n:,} messages")
    assert state.broker is not None and state.postgres is not None  # the embedded stack only
    infra = {"broker": state.broker.pid, "postgres": state.postgres.pid}
    rel = asyncio.run(anchors.relay_anchor(bs, relay_msgs[:s.warmup], relay_msgs[s.warmup:],
                                           timeout=120, log=str(run.logs / "relay.log"),
                                           cpu=infra))
    run.peer_rss["bare relay"] = max(run.peer_rss.get("bare relay", 0), rel.get("peak_rss") or 0)
    url = state.services["intake"].http_url
    r = _intake_pipe(run, state, tokens, pool_id, infra, "fig1-intake")
    # the relay again after intake, so both sides see the same machine (noisy, shared)
    rel2 = asyncio.run(anchors.relay_anchor(bs, relay_msgs[:s.warmup], relay_msgs[s.warmup:],
                                            timeout=120, log=str(run.logs / "relay.log"),
                                            cpu=infra))
    anchor = (rel["per_s"] + rel2["per_s"]) / 2
    run.relay_rates += [rel["per_s"], rel2["per_s"]]
    fig.value = r["per_s"]
    fig.anchor_value = anchor
    fig.ratio = ratio(r["per_s"], anchor)
    fig.met = bool(r["done"] and fig.ratio is not None and fig.ratio >= 2 and r["per_s"] >= 5000)
    if not r["done"]:
        fig.status = f"timeout: {r['got']:,}/{s.intake_n:,} in {r['elapsed_s']:.0f}s"
    fig.details = {"intake": r, "relay_before": rel, "relay_after": rel2,
                   "health": _health(url)["consumers"]}
    fig.notes.append(f"{s.intake_n:,} submissions pre-loaded while intake consumes; relay "
                     f"before/after: {rel['per_s']:,.0f} / {rel2['per_s']:,.0f} msg/s")
    ic, rc = r["cpu_ms_per_msg"], rel2["cpu_ms_per_msg"]
    fig.details["cpu_ms_per_msg"] = {"intake_run": ic, "relay_run": rc}
    fig.notes.append(f"CPU ms/msg: intake {ic['intake']:.2f} + postgres {ic['postgres']:.2f} + "
                     f"broker {ic['broker']:.2f}; bare relay {rc['relay']:.2f} + broker "
                     f"{rc['broker']:.2f} (CPU cost ×{ratio(ic['intake'] + ic['postgres'], rc['relay']) or 0:.1f})")
    return fig


def _intake_pipe(run: Run, state: Any, tokens: Tokens, pool_id: str, infra: dict[str, int],
                 label: str) -> dict[str, Any]:
    """Warm-up, then intake_n submissions pre-loaded on the portal topic while intake (every
    process of it: the meter reads its whole tree) consumes, until the last receipt is read."""
    s = run.sizes
    bs = state.kafka_bootstrap
    msgs = portal_messages(pool_id, tokens, s.warmup + s.intake_n, start=10**6)
    out = [topics.INTAKE_APPLICATIONS.name]
    run.echo(f"  intake: warm-up {s.warmup}, then {s.intake_n:,} submissions")
    w = asyncio.run(anchors.pipe_rate(bs, topics.PORTAL_SUBMISSIONS.name, msgs[:s.warmup],
                                      out_topics=out, timeout=60,
                                      match=_is(b"ApplicationReceived")))
    if not w["done"]:
        census = asyncio.run(_census(bs, out, {k for k, _, _ in msgs[:s.warmup]}))
        raise RuntimeError(f"intake warm-up: {w['got']}/{s.warmup} ApplicationReceived; "
                           f"events seen {census}")
    with profile(state.services["intake"].pid, label):
        return asyncio.run(anchors.pipe_rate(bs, topics.PORTAL_SUBMISSIONS.name,
                                             msgs[s.warmup:], out_topics=out,
                                             timeout=s.intake_timeout_s,
                                             match=_is(b"ApplicationReceived"),
                                             cpu={"intake": state.services["intake"].pid,
                                                  **infra}))


def _burst_requests(run: Run, pool_id: str, tokens: Tokens, port: int, offset: int,
                    n: int) -> list[bytes]:
    from bench.common import applicants, submission
    apps = applicants()
    out = []
    for i in range(n):
        a = apps[i % len(apps)]
        body = json.dumps(submission(pool_id, a, offset + i), separators=(",", ":")).encode()
        out.append(loadgen.build_request("127.0.0.1", port, "/submissions", body,
                                         {"Authorization": f"Bearer {tokens.applicant(a.cvr)}"}))
    return out


def _intake_burst(run: Run, state: Any, tokens: Tokens, pool_id: str,
                  label: str) -> dict[str, Any]:
    """A 200-request warm-up, then burst_rate requests/s for burst_s at intake's port."""
    s = run.sizes
    svc = state.services["intake"]
    port = svc.http_port
    n = int(s.burst_rate * s.burst_s)
    run.echo(f"  intake: {n:,} requests at {s.burst_rate}/s")
    asyncio.run(loadgen.burst("127.0.0.1", port,
                              _burst_requests(run, pool_id, tokens, port, 4 * 10**6, 200), 200))
    with profile(svc.pid, label):
        r = asyncio.run(loadgen.burst("127.0.0.1", port,
                                      _burst_requests(run, pool_id, tokens, port, 5 * 10**6, n),
                                      s.burst_rate, drain_s=s.burst_drain_s))
    return r.summary()


def _fig_burst(run: Run, state: Any, tokens: Tokens, pool_id: str,
               sampler: RssSampler) -> Figure:
    from bench.common import free_port_local
    s = run.sizes
    fig = Figure("burst", f"2 deadline burst: {s.burst_rate:,} HTTP submissions/s × "
                 f"{s.burst_s:g} s, receipt latency", unit="ms p99",
                 anchor_name="bare FastAPI peer p99", anchor_unit="ms",
                 ratio_label="× bare peer p99", target=BURST_TARGET)
    n = int(s.burst_rate * s.burst_s)
    # anchor: the bare peer (token + model validation, no state), same generator, same load
    peer_port = free_port_local()
    key_file = tokens.issuer.public_key_file
    peer = anchors.spawn("bench.peer_http", str(peer_port), str(key_file),
                         log=str(run.logs / "peer_http.log"))
    sampler.watch("bare http peer", peer.popen.pid)
    try:
        _wait_http(f"http://127.0.0.1:{peer_port}/health")
        run.echo(f"  anchor: bare FastAPI peer, {n:,} requests at {s.burst_rate}/s")
        asyncio.run(loadgen.burst("127.0.0.1", peer_port, _burst_requests(
            run, pool_id, tokens, peer_port, 2 * 10**6, 200), 200))  # warm-up
        a = asyncio.run(loadgen.burst("127.0.0.1", peer_port, _burst_requests(
            run, pool_id, tokens, peer_port, 3 * 10**6, int(s.burst_rate * s.peer_burst_s)),
            s.burst_rate, drain_s=s.burst_drain_s))
    finally:
        peer.stop()
        sampler.unwatch("bare http peer")
        run.peer_rss["bare http peer"] = sampler.peak.pop("bare http peer", 0)
    rs, as_ = _intake_burst(run, state, tokens, pool_id, "fig2-intake"), a.summary()
    fig.value = rs["p99_ms"]
    fig.anchor_value = as_["p99_ms"]
    fig.ratio = ratio(rs["p99_ms"], as_["p99_ms"])
    fig.met = bool(rs["p99_ms"] is not None and rs["p99_ms"] < 50 and rs["errors"] == 0
                   and rs["ok"] == n)
    fig.details = {"intake": rs, "bare_peer": as_}
    fig.notes.append(f"intake p50 {_ms(rs['p50_ms'])}, p99 {_ms(rs['p99_ms'])}, max "
                     f"{_ms(rs['max_ms'])}; {rs['ok']:,}/{n:,} answered 200 "
                     f"({rs['answered_per_s'] or 0:,.0f}/s), shed {rs['shed']:,} "
                     f"({rs['shed_share'] or 0:.1%}, 503 overloaded), "
                     f"errors {rs['errors']:,} "
                     f"{rs['error_kinds'] or ''}; bare peer ({s.peer_burst_s:g} s) p50 "
                     f"{_ms(as_['p50_ms'])}, p99 {_ms(as_['p99_ms'])}, errors {as_['errors']}")
    return fig


def _ms(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1f} ms"


def _wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{url} not up after {timeout}s")


# -- figure 3: lifecycle ----------------------------------------------------------------------------

LIFECYCLE_TARGET = "< 30 s wall"


def fig_lifecycle(run: Run) -> None:
    title = (f"3 lifecycle: {run.sizes.lifecycle_n:,} applications, submission → two assessors' "
             "scores → decisions")
    gone = services_missing(["intake", "assessment"])
    if gone:
        run.figures["lifecycle"] = missing("lifecycle", title, LIFECYCLE_TARGET, gone)
        return
    run.echo("figure 3: starting a stack with intake and assessment")
    sampler = RssSampler()
    try:
        with stack(["intake", "assessment"], echo=lambda m: None) as (_st, state), sampler:
            for name in ("intake", "assessment"):
                sampler.watch(name, state.services[name].pid)
            run.figures["lifecycle"] = asyncio.run(_lifecycle(run, state, title, sampler))
    except Exception as exc:  # noqa: BLE001
        run.figures["lifecycle"] = Figure("lifecycle", title, target=LIFECYCLE_TARGET,
                                          status=f"error: {exc!r}"[:300])
    run.keep_rss(sampler)


async def _lifecycle(run: Run, state: Any, title: str, sampler: RssSampler) -> Figure:
    s = run.sizes
    n = s.lifecycle_n
    fig = Figure("lifecycle", title, unit="s wall", anchor_name="bare relay, same N",
                 anchor_unit="s", ratio_label="× bare relay time", target=LIFECYCLE_TARGET)
    bs = state.kafka_bootstrap
    tokens = Tokens(state.home)
    intake_url = state.services["intake"].http_url
    assessment_url = state.services["assessment"].http_url
    pool_id = f"bench-life-{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(timeout=300) as http:
        resp = await http.post(f"{assessment_url}/pools", json=bench_pool(pool_id),
                               headers={"Authorization": f"Bearer {tokens.role('caseworker')}"})
        if resp.status_code != 201:
            raise RuntimeError(f"assessment refused the pool: {resp.status_code} {resp.text[:300]}")
        await pools_reached_intake(bs, intake_url)
        # the anchor on this stack's broker: the bare relay over the same number of messages
        relay_msgs = portal_messages(pool_id, tokens, s.warmup + min(n, s.relay_n),
                                     start=7 * 10**6)
        run.echo(f"  anchor: bare relay, {min(n, s.relay_n):,} messages")
        rel = await anchors.relay_anchor(bs, relay_msgs[:s.warmup], relay_msgs[s.warmup:],
                                         timeout=120, log=str(run.logs / "relay.log"))
        run.relay_rates.append(rel["per_s"])
        msgs = portal_messages(pool_id, tokens, n, start=8 * 10**6)
        keys = {k for k, _, _ in msgs}
        received = TopicCounter(bs, [topics.INTAKE_APPLICATIONS.name],
                                lambda r: r.key in keys and header(r, "event_type")
                                == b"ApplicationReceived")
        assessed = TopicCounter(bs, [topics.ASSESSMENT_ASSESSMENTS.name],
                                lambda r: r.key in keys and header(r, "event_type")
                                == b"EligibilityAssessed")
        decided = TopicCounter(bs, [topics.ASSESSMENT_DECISIONS.name],
                               lambda r: r.key in keys and header(r, "event_type")
                               in (b"GrantAwarded", b"ApplicationRejected"))
        for c in (received, assessed, decided):
            await c.start()
        phases: dict[str, Any] = {}
        prod = producer(bs)
        await prod.start()
        run.echo(f"  lifecycle: {n:,} submissions on the portal topic")
        t0 = time.perf_counter()
        deadline = t0 + s.lifecycle_timeout_s
        profiles = contextlib.ExitStack()
        for name in ("intake", "assessment"):
            profiles.enter_context(profile(state.services[name].pid, f"fig3-{name}"))
        # CPU seconds per phase: the service and PostgreSQL (all its backends) do the work;
        # on a box shared with other jobs these are steadier than wall times
        cpu_pids = {"assessment": state.services["assessment"].pid,
                    "intake": state.services["intake"].pid}
        if state.postgres is not None:
            cpu_pids["postgres"] = state.postgres.pid
        eligibility_cpu = CpuMeter(cpu_pids).start()
        try:
            await produce_fast(prod, topics.PORTAL_SUBMISSIONS.name, msgs)
            phases["preloaded_s"] = time.perf_counter() - t0
            t_recv = await received.wait_for(n, max(1, deadline - time.perf_counter()))
            phases["received_s"] = t_recv - t0 if t_recv else None
            t_ass = await assessed.wait_for(n, max(1, deadline - time.perf_counter()))
            phases["eligibility_s"] = t_ass - t0 if t_ass else None
            if t_ass is None:
                eligibility_cpu.stop()
                phases.update(received=received.count, assessed=assessed.count)
                fig.status = (f"timeout after {s.lifecycle_timeout_s:.0f}s: "
                              f"{received.count:,} received, {assessed.count:,} assessed of {n:,}")
                fig.details = {"phases": phases, "relay": rel}
                fig.value = None
                fig.met = False
                return fig
            phases["cpu_s_to_eligibility"] = eligibility_cpu.stop()
            s0 = time.perf_counter()
            scoring_cpu = CpuMeter(cpu_pids).start()
            scoring = await _score_all(state.services["assessment"].http_port, tokens,
                                       sorted(keys), max(5, deadline - s0))
            phases["scoring_s"] = time.perf_counter() - s0
            phases["cpu_s_scoring"] = scoring_cpu.stop()
            phases["scores_sent"] = scoring.sent
            phases["scores_recorded"] = scoring.ok
            if scoring.ok != scoring.sent:
                fig.status = (f"timeout after {s.lifecycle_timeout_s:.0f}s: {scoring.ok:,}/"
                              f"{scoring.sent:,} scores recorded (statuses "
                              f"{dict(scoring.statuses)}, errors {dict(scoring.errors)})")
                fig.details = {"phases": phases, "relay": rel}
                fig.value = None
                fig.met = False
                return fig
            sampler.sample()
            phases["rss_mib_before_allocation"] = {k: mib(v) for k, v in sampler.peak.items()}
            # CPU, not only wall: figure 7 compares allocations of several sizes on a shared box
            meter = CpuMeter({"assessment": state.services["assessment"].pid,
                              **({"postgres": state.postgres.pid} if state.postgres else {})})
            meter.start()
            a0 = time.perf_counter()
            resp = await http.post(f"{assessment_url}/pools/{pool_id}/allocations", json={},
                                   headers={"Authorization":
                                            f"Bearer {tokens.role('approver')}"},
                                   timeout=max(5, deadline - a0))
            phases["allocation_http_s"] = time.perf_counter() - a0
            if resp.status_code != 200:
                raise RuntimeError(f"allocation refused: {resp.status_code} {resp.text[:300]}")
            t_dec = await decided.wait_for(n, max(1, deadline - time.perf_counter()))
            phases["decisions_s"] = t_dec - t0 if t_dec else None
            phases["allocation_cpu_s"] = meter.stop()  # the request until the last decision
            sampler.sample()
            phases["rss_mib_peak_after_allocation"] = {k: mib(v) for k, v in sampler.peak.items()}
        finally:
            profiles.close()
            await prod.stop()
            for c in (received, assessed, decided):
                await c.stop()
    decisions = resp.json()["decisions"]
    phases["decisions_in_response"] = len(decisions)
    phases["awarded"] = sum(1 for d in decisions if d["decision"] == "awarded")
    if t_dec is None:
        fig.status = f"timeout: {decided.count:,}/{n:,} decisions"
        fig.met = False
        fig.details = {"phases": phases, "relay": rel}
        return fig
    wall = t_dec - t0
    relay_time = n / rel["per_s"]
    fig.value = wall
    fig.anchor_value = relay_time
    fig.ratio = ratio(wall, relay_time)
    fig.met = wall < 30
    fig.details = {"phases": phases, "relay": rel, "apps_per_s": n / wall}
    fig.notes.append(
        f"received {phases['received_s']:.1f}s, eligibility {phases['eligibility_s']:.1f}s, "
        f"scoring {phases['scoring_s']:.1f}s ({phases['scores_sent']:,} scores over HTTP, "
        f"{SCORING_IN_FLIGHT} in flight), allocation HTTP {phases['allocation_http_s']:.1f}s, "
        f"decisions {wall:.1f}s; {phases['awarded']:,} awarded by score; CPU per application "
        f"to eligibility {_per_ms(phases['cpu_s_to_eligibility'], n)}, per score "
        f"{_per_ms(phases['cpu_s_scoring'], phases['scores_sent'])}")
    return fig


SCORING_IN_FLIGHT = 32  # bounded concurrency: enough to keep both cores busy, not a flood
ASSESSORS = ("bench-assessor-1", "bench-assessor-2")


def bench_scores(application_id: bytes, assessor: int) -> dict[str, int]:
    """Scores 1–5 on the pool's five criteria, spread by the application id so ranking has
    real work (ties broken by the pool's rule, not by every score being equal) and every
    minimum requirement (mean ≥ 1) is met."""
    digest = hashlib.sha256(application_id + bytes([assessor])).digest()
    return {str(c): 1 + digest[c] % 5 for c in range(1, 6)}


def _per_ms(cpu_s: dict[str, float], count: int) -> str:
    return ", ".join(f"{k} {v * 1000 / max(count, 1):.2f} ms" for k, v in cpu_s.items())


async def _score_all(port: int, tokens: Tokens, application_ids: list[bytes],
                     timeout: float) -> loadgen.BurstResult:
    """Two assessors score every application over the assessor route, at most
    ``SCORING_IN_FLIGHT`` requests at a time (the bench's raw-stream generator, closed loop: an
    HTTP client library would spend as much of the shared 2 cores as the service); what is
    unanswered after ``timeout`` is counted, not waited for."""
    bearer = [f"Bearer {tokens.issuer.issue(name, ['assessor'], ttl_s=4 * 3600)}"
              for name in ASSESSORS]
    requests = [
        loadgen.build_request(
            "127.0.0.1", port, f"/applications/{app_id.decode()}/scores",
            json.dumps({"scores": bench_scores(app_id, i),
                        "justification": "bench: scored on every criterion"}).encode(),
            {"Authorization": bearer[i]})
        for app_id in application_ids for i in range(len(ASSESSORS))]
    # every request due at once: the connection bound is the in-flight bound
    result = await loadgen.burst("127.0.0.1", port, requests, rate=1e9,
                                 ok_statuses=frozenset({201}),
                                 max_connections=SCORING_IN_FLIGHT, request_timeout_s=timeout,
                                 drain_s=timeout)
    return result


# -- figure 4: auditors' replay ---------------------------------------------------------------------

def _worker(*args: str, timeout: float = 600) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "bench.replay_worker", *args], cwd=REPO,
                         capture_output=True, text=True, timeout=timeout, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"replay worker {args[0]} failed: {out.stderr[-800:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _replay_only(n: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Produce ``n`` events onto a fresh broker of their own and replay them: the replay's
    memory at a second size (a broker per size, as the generator's ids and the relays' trees
    start over with every ``produce``)."""
    from grants.stack import ensure_topics, start_broker
    broker = start_broker(die_with_parent=True)
    keys = tempfile.NamedTemporaryFile(suffix=".jwks.json", delete=False)  # noqa: SIM115
    keys.close()
    try:
        asyncio.run(ensure_topics(broker.bootstrap))
        prod = _worker("produce", broker.bootstrap, str(n), keys.name)
        return prod, _worker("replay", broker.bootstrap, keys.name)
    finally:
        broker.stop()
        Path(keys.name).unlink(missing_ok=True)


def _rss_line(n: int, rep: dict[str, Any]) -> str:
    return (f"{n:,} events: peak RSS {mib(rep['peak_rss']):,.0f} MiB (base "
            f"{mib(rep['base_rss']):,.0f}, after reading {mib(rep['rss_after_read']):,.0f}, "
            f"after the result {mib(rep['rss_after_replay']):,.0f}), verified={rep['verified']}")


def fig_replay(run: Run) -> None:
    from grants.stack import ensure_topics, start_broker
    n = run.sizes.replay_n
    small = run.sizes.replay_small_n
    fig = Figure("replay", f"4 auditors' replay from the log alone: checkpoints verified, "
                 f"{n:,} events", unit="events/s", anchor_name="raw consume, same log",
                 anchor_unit="events/s", ratio_label="× raw consume",
                 target="≥ 0.7× raw consume, incl. checkpoint verification; "
                        "peak RSS ≤ 300 MiB at 1M events")
    try:
        run.echo(f"figure 4: replay memory at {small:,} events (a broker of its own)")
        _prod_small, rep_small = _replay_only(small)
    except Exception as exc:  # noqa: BLE001
        fig.status = f"error: {exc!r}"[:300]
        run.figures["replay"] = fig
        return
    broker = start_broker(die_with_parent=True)
    keys = tempfile.NamedTemporaryFile(suffix=".jwks.json", delete=False)  # noqa: SIM115
    keys.close()
    try:
        asyncio.run(ensure_topics(broker.bootstrap))
        run.echo(f"figure 4: producing {n:,} envelopes and their signed checkpoints")
        prod = _worker("produce", broker.bootstrap, str(n), keys.name)
        run.echo("  anchor: raw consume; replay; raw consume again")
        raw1 = _worker("raw", broker.bootstrap)
        rep = _worker("replay", broker.bootstrap, keys.name)
        raw2 = _worker("raw", broker.bootstrap)
        plain = _worker("unverified", broker.bootstrap)
    except Exception as exc:  # noqa: BLE001
        fig.status = f"error: {exc!r}"[:300]
        run.figures["replay"] = fig
        return
    finally:
        broker.stop()
        Path(keys.name).unlink(missing_ok=True)
    anchor = (raw1["per_s"] + raw2["per_s"]) / 2
    fig.value = rep["per_s"]
    fig.anchor_value = anchor
    fig.ratio = ratio(rep["per_s"], anchor)
    # The memory target is stated at 1M events (the full run); a quick run is held to it too,
    # which at 100k events is the easier test.
    rss_ok = mib(rep["peak_rss"]) <= 300  # type: ignore[operator]  # peak_rss is always set
    fig.met = bool(fig.ratio is not None and fig.ratio >= 0.7 and rep["events"] >= n
                   and rep["undecodable"] == 0 and rep["verified"] and rss_ok)
    # How replay memory grows: peak RSS above the worker's base (imports), per added event.
    grown = ((rep["peak_rss"] - rep["base_rss"]) - (rep_small["peak_rss"] - rep_small["base_rss"]))
    per_event = grown / max(rep["events"] - rep_small["events"], 1)
    fig.details = {"produce": prod, "raw_before": raw1, "replay": rep, "raw_after": raw2,
                   "without_checkpoints": plain,
                   "rss_by_size": {
                       str(rep_small["events"]): {k: rep_small[k] for k in (
                           "peak_rss", "base_rss", "rss_after_read", "rss_after_replay",
                           "verified", "per_s")},
                       str(rep["events"]): {k: rep[k] for k in (
                           "peak_rss", "base_rss", "rss_after_read", "rss_after_replay",
                           "verified", "per_s")}},
                   "rss_bytes_per_added_event": per_event}
    fig.notes.append(
        f"without checkpoint verification (read_log + fold, as before): {plain['per_s']:,.0f} "
        f"events/s, ×{plain['per_s'] / anchor:.2f} raw; verification costs "
        f"{100 * (1 - rep['per_s'] / plain['per_s']):.0f}% of that")
    fig.notes.append(
        f"{rep['events']:,} events ({prod['mean_bytes']:.0f} B avg), {rep.get('checkpoints')} "
        f"signed checkpoints, {rep.get('events_verified', 0):,} events verified against them; "
        f"{rep.get('mode', '')}: read+verify+decode+fold {rep['read_s']:.1f}s, trees "
        f"{rep.get('trees_s', 0):.1f}s, result (checks) {rep['replay_s']:.1f}s, "
        f"verified={rep['verified']}; peak RSS {mib(rep['peak_rss']):,.0f} MiB (raw reader "
        f"{mib(raw1['peak_rss']):,.0f} MiB)")
    fig.notes.append(
        f"replay memory by size — {_rss_line(rep_small['events'], rep_small)}; "
        f"{_rss_line(rep['events'], rep)}; {per_event:,.0f} B of peak RSS per added event")
    run.figures["replay"] = fig


# -- figure 5: the demo -----------------------------------------------------------------------------

DEMO_TARGET_S = 8.0  # issue 22: the round (submission to verified replay) under 8 s
DEMO_TARGET = f"< {DEMO_TARGET_S:g} s"


def fig_demo(run: Run) -> None:
    from grants.scenario.runner import SERVICES
    title = "5 full demo round (98 municipalities), submission → replay"
    gone = services_missing(SERVICES)
    if gone:
        run.figures["demo"] = missing("demo", title, DEMO_TARGET, gone)
        return
    fig = Figure("demo", title, unit="s wall", target=DEMO_TARGET, anchor_name="target",
                 anchor_value=DEMO_TARGET_S, anchor_unit="s", ratio_label="× target")
    home = Path(tempfile.mkdtemp(prefix="grants-bench-demo-"))
    out = home / "demo-result.json"
    env = dict(os.environ, GRANTS_HOME=str(home))
    grants = Path(sys.executable).with_name("grants")
    base = [str(grants)] if grants.exists() else [sys.executable, "-m", "grants.cli"]
    cmd = base + ["demo", "--out", str(out)]
    run.echo("figure 5: grants stack up --simulation; grants demo")
    try:
        # The stack is started first: `grants demo` starting one itself currently fails
        # (play() is a coroutine and EmbeddedStack.up() calls asyncio.run()). `run.wall_s`
        # measures submission to replay either way, not the stack's start.
        t_up = time.perf_counter()
        up = subprocess.run(base + ["stack", "up", "--simulation"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=180, check=False)
        if up.returncode != 0:
            raise RuntimeError(f"grants stack up failed: {(up.stdout + up.stderr)[-600:]}")
        up_s = time.perf_counter() - t_up
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=400, check=False)
        total = time.perf_counter() - t0
        if not out.exists():
            raise RuntimeError(f"no result JSON (exit {proc.returncode}): "
                               f"{(proc.stdout + proc.stderr)[-600:]}")
        result = json.loads(out.read_text())
        wall = float(result["run"]["wall_s"])
        fig.value = wall
        fig.ratio = wall / DEMO_TARGET_S
        fig.met = wall < DEMO_TARGET_S and result["audit"]["verified"]
        fig.details = {"process_s": total, "stack_up_s": up_s, "exit": proc.returncode,
                       "verified": result["audit"]["verified"], "events": result["audit"]["events"],
                       "notes": len(result.get("notes", []))}
        fig.notes.append(f"stack up (durable, simulation) {up_s:.1f}s, then `grants demo` "
                         f"process {total:.1f}s; replay verified="
                         f"{result['audit']['verified']}, {result['audit']['events']} events")
    except Exception as exc:  # noqa: BLE001
        fig.status = f"error: {exc!r}"[:300]
    finally:
        subprocess.run(base + ["stack", "down"], cwd=REPO, env=env, capture_output=True,
                       timeout=60, check=False)
    run.figures["demo"] = fig


# -- figure 6: memory -------------------------------------------------------------------------------

def fig_memory(run: Run) -> None:
    fig = Figure("memory", "6 peak RSS per service process during figures 1–3", unit="MiB",
                 anchor_name="bare relay process", anchor_unit="MiB", ratio_label="× bare relay",
                 target="< 200 MB each")
    services = {k: v for k, v in run.service_rss.items() if k in ("intake", "assessment")}
    if not services:
        fig.status = "n/a (no service ran: figures 1–3 not selected or services missing)"
        run.figures["memory"] = fig
        return
    worst = max(services, key=lambda k: services[k])
    anchor = run.peer_rss.get("bare relay")
    fig.value = mib(services[worst])
    fig.anchor_value = mib(anchor)
    fig.ratio = ratio(services[worst], anchor)
    fig.met = all(v < 200 * 1000 * 1000 for v in services.values())
    fig.details = {"peak_rss_mib": {k: mib(v) for k, v in run.service_rss.items()},
                   "peer_rss_mib": {k: mib(v) for k, v in run.peer_rss.items()}}
    fig.notes.append("peaks: " + ", ".join(f"{k} {mib(v):.0f} MiB" for k, v in
                                           sorted(run.service_rss.items())) + "; worst: " + worst)
    run.figures["memory"] = fig

"""Figure 7: how cost grows. Allocation and the auditors' replay, each at three sizes, and the
growth exponent of their time and memory (the log-log slope between consecutive sizes).

An exponent of 1 is linear; the target is ≤ 1.1 at every step, so no quadratic step hides between
the sizes the other figures measure. Memory is what the work adds above the process's footing,
not its total: a process's RSS at rest (imports, pools, caches) would flatten every slope towards
0 and hide a growing structure.

- allocation: each size on a fresh intake + assessment stack, the whole of figure 3 (submissions,
  two assessors' scores over HTTP, ``POST /pools/{id}/allocations``); time = the CPU seconds
  assessment and PostgreSQL spend from the allocation request until its last decision is on the
  log (a wall time of a second or two swings by 2× on the shared box; CPU far less), memory = assessment's peak RSS over the leg minus its RSS when the stack came up.
- replay: each size on a fresh broker, figure 4's generated log; time = the verified replay's
  wall in its own process, memory = its peak RSS minus its RSS before reading (imports, keys).
"""

from __future__ import annotations

import asyncio
import math
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.common import Figure, RssSampler, mib, services_missing, stack

GROWTH_TARGET = "growth exponent ≤ 1.1 at every step (time and memory)"


def exponents(points: list[tuple[int, float]]) -> list[float | None]:
    """The log-log slope between each pair of consecutive (size, cost) points; ``None`` where a
    cost is not positive (a slope of nothing is no measure)."""
    out: list[float | None] = []
    for (n1, c1), (n2, c2) in zip(points, points[1:], strict=False):
        if c1 <= 0 or c2 <= 0 or n2 == n1:
            out.append(None)
        else:
            out.append(math.log(c2 / c1) / math.log(n2 / n1))
    return out


def fig_growth(run: Any) -> None:
    s = run.sizes
    title = (f"7 growth: allocation at {'/'.join(f'{n:,}' for n in s.growth_allocation)} "
             f"applications, replay at {'/'.join(f'{n:,}' for n in s.growth_replay)} events")
    fig = Figure("growth", title, unit="max exponent", target=GROWTH_TARGET)
    legs: dict[str, list[dict[str, Any]]] = {"allocation": [], "replay": []}
    try:
        if not services_missing(["intake", "assessment"]):
            for n in s.growth_allocation:
                run.echo(f"figure 7: allocation at {n:,} applications")
                legs["allocation"].append(_allocation_at(run, n))
        for n in s.growth_replay:
            run.echo(f"figure 7: replay at {n:,} events")
            legs["replay"].append(_replay_at(run, n))
    except Exception as exc:  # noqa: BLE001 - the legs measured so far are still reported
        fig.status = f"error: {exc!r}"[:300]
    slopes: dict[str, list[float | None]] = {}
    for kind, points in legs.items():
        for cost in ("time_s", "memory_bytes"):
            slopes[f"{kind} {cost.split('_')[0]}"] = exponents(
                [(p["n"], p[cost]) for p in points if p.get(cost) is not None])
    found = [e for es in slopes.values() for e in es if e is not None]
    fig.value = max(found) if found else None
    fig.met = bool(found) and fig.status == "ok" and max(found) <= 1.1
    fig.details = {"legs": legs, "exponents": slopes}
    for kind, points in legs.items():
        if points:
            unit = "s CPU" if kind == "allocation" else "s"
            fig.notes.append(f"{kind}: " + ", ".join(
                f"{p['n']:,} → {p['time_s']:.2f} {unit}, +{mib(p['memory_bytes']) or 0:,.0f} MiB"
                for p in points))
    for name, es in slopes.items():
        if es:
            fig.notes.append(f"{name} exponents: " + " / ".join(
                "n/a" if e is None else f"{e:.2f}" for e in es))
    run.figures["growth"] = fig


def _allocation_at(run: Any, n: int) -> dict[str, Any]:
    from bench.figures import _lifecycle  # figure 3's procedure, at this size
    # figure 3's budget is for its own size; the round's phases grow with n (two scores per
    # application over HTTP the most: ~150-300/s on the 2-core box), so the leg's does too
    timeout = max(run.sizes.lifecycle_timeout_s, 60 + n / 15)
    sub = replace(run, sizes=replace(run.sizes, lifecycle_n=n, lifecycle_timeout_s=timeout),
                  figures={})
    sampler = RssSampler()
    with stack(["intake", "assessment"], echo=lambda m: None) as (_st, state), sampler:
        pid = state.services["assessment"].pid
        sampler.watch("assessment", pid)
        sampler.sample()
        footing = sampler.peak["assessment"]
        fig = asyncio.run(_lifecycle(sub, state, f"allocation at {n:,}", sampler))
        sampler.sample()
    phases = fig.details.get("phases", {})
    if fig.value is None:
        raise RuntimeError(f"allocation at {n:,}: {fig.status}")
    cpu = phases.get("allocation_cpu_s") or {}
    return {"n": n, "time_s": sum(cpu.values()) if cpu else phases["allocation_http_s"],
            "allocation_http_s": phases["allocation_http_s"], "allocation_cpu_s": cpu,
            "memory_bytes": sampler.peak["assessment"] - footing,
            "footing_bytes": footing, "round_wall_s": fig.value,
            "awarded": phases.get("awarded")}


def _replay_at(run: Any, n: int) -> dict[str, Any]:
    from bench.figures import _worker  # figure 4's worker processes, at this size
    from grants.stack import ensure_topics, start_broker
    broker = start_broker(die_with_parent=True)
    keys = tempfile.NamedTemporaryFile(suffix=".jwks.json", delete=False)  # noqa: SIM115
    keys.close()
    try:
        asyncio.run(ensure_topics(broker.bootstrap))
        _worker("produce", broker.bootstrap, str(n), keys.name, timeout=1800)
        rep = _worker("replay", broker.bootstrap, keys.name, timeout=1800)
    finally:
        broker.stop()
        Path(keys.name).unlink(missing_ok=True)
    if not rep.get("verified") or rep.get("events", 0) < n:
        raise RuntimeError(f"replay at {n:,}: verified={rep.get('verified')}, "
                           f"{rep.get('events')} events")
    return {"n": n, "time_s": rep["seconds"], "memory_bytes": rep["peak_rss"] - rep["base_rss"],
            "peak_rss_bytes": rep["peak_rss"], "base_rss_bytes": rep["base_rss"],
            "per_s": rep["per_s"]}

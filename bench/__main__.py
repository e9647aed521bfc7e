"""``.venv/bin/python -m bench [--quick] [--only raw,intake,burst,lifecycle,replay,demo,memory]``

Runs the figures of issue #8 with their anchors in the same run, prints a table and writes
``bench/results/latest.json``. Never part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console, JustifyMethod
from rich.table import Table

from bench.figures import (
    Run,
    Sizes,
    fig_demo,
    fig_lifecycle,
    fig_memory,
    fig_raw,
    fig_replay,
    figs_intake,
)

ORDER = ["raw", "intake", "burst", "lifecycle", "replay", "demo", "memory", "growth"]
RESULTS = Path(__file__).parent / "results"


def _fmt(x: float | None, unit: str = "") -> str:
    if x is None:
        return "—"
    if abs(x) >= 100:
        s = f"{x:,.0f}"
    elif abs(x) >= 10:
        s = f"{x:,.1f}"
    else:
        s = f"{x:,.2f}"
    return f"{s} {unit}".strip()


def table(run: Run) -> Table:
    t = Table(title="grant platform benchmarks (anchors measured in the same run)",
              show_lines=True)
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("figure", "left"), ("value", "right"), ("anchor", "right"), ("ratio", "right"),
        ("target", "left"), ("met", "center"), ("notes", "left"))
    for col, just in columns:
        t.add_column(col, justify=just, overflow="fold")
    for key in ORDER:
        f = run.figures.get(key)
        if f is None:
            continue
        if f.status != "ok" and f.value is None:
            t.add_row(f.title, f"[yellow]{f.status}", "", "", f.target, "—",
                      "\n".join(f.notes))
            continue
        met = {True: "[green]yes", False: "[red]NO", None: "—"}[f.met]
        value = _fmt(f.value, f.unit) + ("" if f.status == "ok" else f"\n[yellow]{f.status}")
        anchor = f"{f.anchor_name}\n{_fmt(f.anchor_value, f.anchor_unit)}" if f.anchor_name \
            else "—"
        r = f"×{_fmt(f.ratio)}\n{f.ratio_label}" if f.ratio is not None else "—"
        t.add_row(f.title, value, anchor, r, f.target, met, "\n".join(f.notes))
    return t


def _git() -> dict[str, Any]:
    """The commit measured, and which code files differed from it (others work in this tree)."""
    import subprocess
    repo = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
        return out.stdout.strip()

    dirty = [line[3:] for line in git("status", "--porcelain").splitlines()
             if line[3:].startswith(("services/", "servicekit/", "contracts/", "grants/"))]
    return {"head": git("rev-parse", "--short", "HEAD"), "subject": git("log", "-1", "--format=%s"),
            "uncommitted_code": dirty}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes (< 2 min)")
    p.add_argument("--only", default=",".join(ORDER),
                   help=f"comma-separated figures, from {','.join(ORDER)} (default: all)")
    p.add_argument("--profile", action="store_true",
                   help="py-spy profiles of the services during figures 1-3 "
                        "(bench/results/profiles/; slows them a little)")
    p.add_argument("--out", type=Path, default=RESULTS / "latest.json", help="result JSON")
    args = p.parse_args(argv)
    want = {w.strip() for w in args.only.split(",") if w.strip()}
    if args.quick and args.only == p.get_default("only"):
        # the demo has one size (~1 min), figure 7 is nine runs (~3 min even small): each runs
        # when named (`--quick --only demo,growth`)
        want -= {"demo", "growth"}
    unknown = want - set(ORDER)
    if unknown:
        p.error(f"unknown figures {sorted(unknown)}; choose from {ORDER}")
    console = Console(width=None if sys.stdout.isatty() else 170)
    if args.profile:
        from bench import profiling
        profiling.ENABLED = True
    sizes = Sizes.quick() if args.quick else Sizes.full()
    run = Run(sizes, echo=lambda m: console.print(f"[dim]{time.strftime('%H:%M:%S')} {m}"))
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    load_before = psutil.getloadavg()
    code = _git()
    run.echo(f"code: {code['head']} ({code['subject'][:60]}); uncommitted: "
             f"{', '.join(code['uncommitted_code']) or 'none'}")
    if "raw" in want:
        run.echo("anchor (a): raw broker")
        fig_raw(run)
    if want & {"intake", "burst"} or ("memory" in want and not want & {"lifecycle"}):
        figs_intake(run, want & {"intake", "burst"} or {"intake"})
    if want & {"lifecycle"}:
        fig_lifecycle(run)
    if "replay" in want:
        fig_replay(run)
    if "demo" in want:
        fig_demo(run)
    if "memory" in want:
        fig_memory(run)
    if "growth" in want:
        from bench.growth import fig_growth
        fig_growth(run)
    total = time.perf_counter() - t0
    console.print(table(run))
    console.print(f"total {total:.0f}s; logs of the bare peers in {run.logs}")
    doc: dict[str, Any] = {
        "started_at": started.isoformat(), "total_s": total, "quick": args.quick,
        "figures_selected": sorted(want, key=ORDER.index), "code": code,
        "machine": {"cpus": psutil.cpu_count(), "python": platform.python_version(),
                    "loadavg_before": load_before, "loadavg_after": psutil.getloadavg(),
                    "mem_total_mib": psutil.virtual_memory().total // 2**20},
        "sizes": vars(sizes),
        "figures": {k: run.figures[k].as_json() for k in ORDER if k in run.figures},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    console.print(f"JSON written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

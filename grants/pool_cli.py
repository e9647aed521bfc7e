"""`grants pool overview POOL_ID`: the running reporting service's figures for a pool.

Per sub-pool (and in total): applied, awarded, accepted, paid, spent and repaid, in DKK; with
``--grant APPLICATION_ID`` also that grant's timeline. Calls the reporting service of the local
stack (``grants stack up``) with a token from the stack's dev issuer.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from grants.stack import EmbeddedStack
from grants.tables import Column, fitted_table
from servicekit.identity import DevTokenIssuer

app = typer.Typer(help="Pool figures from the reporting service.", no_args_is_help=True)

COLUMNS = (("applications", "applications", False), ("applied", "applied_oere", True),
           ("awards", "awards", False), ("awarded", "awarded_oere", True),
           ("accepted", "accepted_oere", True), ("paid", "paid_oere", True),
           ("spent", "spent_oere", True), ("repaid", "repaid_oere", True),
           ("waived", "waived_oere", True))


def dkk(oere: int | None) -> str:
    """Øre as DKK with two decimals, computed on integers (never float)."""
    if oere is None:
        return "-"
    sign = "-" if oere < 0 else ""
    whole, cents = divmod(abs(oere), 100)
    return f"{sign}{whole:,}.{cents:02d}"


# Which columns stay longest at 80 columns: the money awarded and paid before the rest.
PRIORITY = {"sub-pool": 100, "amount": 40, "applications": 20, "applied": 30, "awards": 25,
            "awarded": 90, "accepted": 50, "paid": 80, "spent": 60, "repaid": 45, "waived": 10}


def overview_table(view: dict[str, Any], *, width: int = 80, wide: bool = False) -> Table:
    title = f"pool {view['pool_id']}" + (f" — {view['title']}" if view.get("title") else "")
    headers = ["sub-pool", "amount", *(name for name, _key, _money in COLUMNS)]
    columns = [Column(h, PRIORITY.get(h, 0), "left" if h == "sub-pool" else "right")
               for h in headers]
    amounts = view.get("sub_pool_amounts_oere") or {}
    rows = [[code, dkk(amounts.get(code)), *_cells(figures)]
            for code, figures in view["sub_pools"].items()]
    rows.append(["total", dkk(view.get("total_amount_oere")), *_cells(view["total"])])
    return fitted_table(f"{title} (DKK)", columns, rows, width=width, wide=wide,
                        bold_last=True)


def _cells(figures: dict[str, int]) -> list[str]:
    return [dkk(figures.get(key, 0)) if money else str(figures.get(key, 0))
            for _name, key, money in COLUMNS]


def grant_table(grant: dict[str, Any]) -> Table:
    repayment = grant.get("repayment") or {}
    table = Table(title=(
        f"grant {grant['application_id']} — {grant['status']}, audit level "
        f"{grant['audit_level']}; awarded {dkk(grant['awarded_oere'])}, paid "
        f"{dkk(grant['paid_oere'])}, spent {dkk(grant.get('spent_oere'))}, claimed "
        f"{dkk(repayment.get('claimed_oere', 0))}, waived {dkk(repayment.get('waived_oere', 0))}"
        " DKK"))
    table.add_column("when (UTC)")
    table.add_column("event")
    table.add_column("what")
    for entry in grant["timeline"]:
        table.add_row(entry["occurred_at"], entry["event_type"], entry["summary"])
    return table


def _fail(console: Console, message: str, code: int = 1) -> typer.Exit:
    console.print(f"[red]{message}[/red]")
    return typer.Exit(code)


def _get(client: httpx.Client, path: str, console: Console) -> dict[str, Any]:
    try:
        response = client.get(path)
    except httpx.HTTPError as exc:
        raise _fail(console, f"reporting service unreachable: {exc}", 2) from exc
    if response.status_code != 200:
        try:
            error = response.json()
            detail = f"{error.get('error')}: {error.get('message', '')}"
        except ValueError:
            detail = response.text[:200]
        raise _fail(console, f"GET {path} → {response.status_code} {detail}")
    return response.json()


@app.command("overview")
def overview(
    pool_id: Annotated[str, typer.Argument(help="the pool's id")],
    grant: Annotated[str | None, typer.Option(
        "--grant", help="also print this application's timeline")] = None,
    wide: Annotated[bool, typer.Option(
        "--wide", help="every column, however wide the table gets")] = False,
) -> None:
    """Applied, awarded, accepted, paid, spent and repaid per sub-pool of POOL_ID (DKK)."""
    console = Console()
    stack = EmbeddedStack()
    state = stack.load_state()
    service = state.services.get("reporting") if state is not None else None
    if state is None or service is None or not service.alive():
        raise _fail(console, "no running reporting service (start the stack with "
                             "`grants stack up`)", 2)
    token = DevTokenIssuer(state.home / "keys").issue("grants-cli", ["auditor"])
    with httpx.Client(base_url=service.http_url, timeout=30.0,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        view = _get(client, f"/pools/{pool_id}/overview", console)
        console.print(overview_table(view, width=console.width, wide=wide))
        if grant is not None:
            console.print(grant_table(_get(client, f"/grants/{grant}", console)))

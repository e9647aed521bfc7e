"""Each service is a room of its own: no service imports another service's code.

Checked with import-linter (an independence contract over the four service packages), and the
domain packages must stay pure: no I/O libraries. The auditors' verification and replay
(``audit``, ``audit.replay``) import only ``contracts``: they must run where no broker, database
or service code is (an offline bundle); reporting, the CLI and the benchmarks import the replay.
The staff's console reaches the services only over their HTTP APIs (servicekit's identity for
the dev token issuer, nothing of a service). The CLI (``grants``) and the benchmarks (``bench``)
import no service at all: what they share with one (a pool's content hash, the tie draw, the
envelopes) is wire vocabulary in ``contracts``. (Provisioning reads each service's consumer
groups by building its app by name at run time, so the ACLs cannot drift from the wiring; that is
the one dynamic import, and it starts nothing.) The reason-code tables are wire vocabulary in
``contracts.reason_codes``, so the CLI's README renderer imports no service at all. No service,
and not servicekit, imports the CLI, the console or the benchmarks.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ["intake", "assessment", "payments", "reporting"]


CONFIG = f"""
[importlinter]
root_packages =
    services
    contracts
    servicekit
    audit
    grants
    console
    bench
include_external_packages = True

[importlinter:contract:services-independent]
name = Services do not import each other
type = independence
modules =
{chr(10).join(f"    services.{s}" for s in SERVICES)}

[importlinter:contract:contracts-stand-alone]
name = Contracts import no service and no runtime
type = forbidden
source_modules =
    contracts
forbidden_modules =
    services
    servicekit
    audit
    grants
    console
    bench
    asyncpg
    aiokafka
    faststream

[importlinter:contract:servicekit-knows-no-service]
name = servicekit imports no service, no CLI, console or benchmark
type = forbidden
source_modules =
    servicekit
forbidden_modules =
    services
    grants
    console
    bench

[importlinter:contract:services-know-no-tools]
name = No service imports the CLI, the console or the benchmarks
type = forbidden
source_modules =
    services
forbidden_modules =
    grants
    console
    bench

[importlinter:contract:tools-import-no-service]
name = The CLI and the benchmarks never import a service
type = forbidden
source_modules =
    grants
    bench
forbidden_modules =
    services

[importlinter:contract:reason-codes-import-no-service]
name = The README's reason-code tables come from contracts and servicekit, not from a service
type = forbidden
source_modules =
    grants.reason_codes
forbidden_modules =
    services

[importlinter:contract:audit-imports-only-contracts]
name = The auditors' verification imports only contracts (no service, runtime or I/O client)
type = forbidden
source_modules =
    audit
forbidden_modules =
    services
    servicekit
    grants
    console
    bench
    asyncpg
    aiokafka
    faststream
    fastapi
    httpx

[importlinter:contract:pure-domains]
name = Domain code does no I/O
type = forbidden
source_modules =
{chr(10).join(f"    services.{s}.domain" for s in SERVICES if (ROOT / "services" / s / "domain" / "__init__.py").exists()) or "    contracts.topics"}
forbidden_modules =
    asyncpg
    aiokafka
    faststream
    fastapi
    httpx
    servicekit

[importlinter:contract:console-over-http-only]
name = The console reaches the services only over HTTP (no service code, database or topic)
type = forbidden
source_modules =
    console
forbidden_modules =
    services
    grants
    bench
    audit
    asyncpg
    aiokafka
    faststream
    servicekit.service
    servicekit.db
    servicekit.consumer
    servicekit.relay
    servicekit.outbox
"""


def test_import_contracts_hold(tmp_path: Path) -> None:
    config = tmp_path / "importlinter.ini"
    config.write_text(CONFIG)
    result = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
         "lint_imports_command()", "--config", str(config), "--no-cache"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr

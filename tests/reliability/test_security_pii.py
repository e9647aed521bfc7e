"""Issue 10, security: no personal data in Kafka keys, headers or log lines.

A realistic round runs on the embedded stack (broker, PostgreSQL, every service its own process
in simulation mode) through ``grants scenario run``: ``example-small`` with its applicants made
into persons — sole proprietors whose names, e-mail addresses and person-identifying CVR numbers
are distinctive — and caseworkers, assessors and approvers named as people. Payloads may carry
these where the contract needs them (the applicant's name and CVR, free texts); nothing else may.
Then two poison records carrying the same data reach the consumers of the intake topic (an event
with an applicant field the contract does not know, and a truncated one), since dead letters and
their log lines quote what broke.

Pass: the round played as ``example-small.expected.json`` says (so every service took part); on
every record of every topic (dead-letter topics included) no key, header name or header value
holds any of the values, nor does any topic's name; no line of any log under
``<GRANTS_HOME>/logs`` does either.

Mechanism guarded: keys are aggregate ids, headers carry ids and codes only, logs log ids and
codes (``servicekit/logging.py``), and a dead letter's error names the failing fields and error
types without the input (``servicekit.consumer._error_text``). Checked locally: with
``_error_text`` returning ``str(exc)`` again, the test fails naming the ``dlt-error`` header and
the ``dead_lettered`` log lines.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from contracts import topics
from grants.stack import EmbeddedStack
from tests.infra.services import eventually, log_records

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "grants" / "scenarios"

# The people of the round: distinctive values that can only come from the scenario.
PEOPLE = {
    "KBH": ("Ingeborg Quistgaard-Vælund", "ingeborg.quistgaard@pii-probe.example"),
    "GENTOFTE": ("Thorvald Zacharias Brøndum", "thorvald.brondum@pii-probe.example"),
    "AARHUS": ("Henrietta Xylander Møgeltoft", "h.moegeltoft@pii-probe.example"),
    "RANDERS": ("Ulrikke Vestergaard-Qvist", "ulrikke.vq@pii-probe.example"),
}
STAFF = ["Sigbrit Assessorsen Kvium", "Aksel Approversen Dyhr", "Karoline Caseworkersen Lund",
         "Bodil Bedømmersen Hvidkjær", "Palle Pilgaard Nørrelykke"]
STAFF_KEYS = ("assessor", "approver", "by")


def pii_scenario() -> tuple[dict[str, Any], set[str]]:
    """``example-small`` with persons as applicants and named staff; the personal values."""
    scenario = json.loads((SCENARIOS / "example-small.json").read_text())
    values: set[str] = set()
    people = iter(PEOPLE.values())
    names: dict[str, tuple[str, str]] = {}
    staff = iter(STAFF)
    named: dict[str, str] = {}  # the scenario's staff id → a person's name (one per id)
    for action in scenario["actions"]:
        if action["type"] == "submit":
            if action["ref"] not in names:
                names[action["ref"]] = next(people)
            name, email = names[action["ref"]]
            action["applicant"]["name"] = name
            action["purpose"] += f" (contact {email})"
            action["organisation"] = f"sole proprietorship of {name}, {email}"
            values |= {name, email, action["applicant"]["cvr"]}
        for key in STAFF_KEYS:
            if key in action:
                if action[key] not in named:
                    named[action[key]] = next(staff)
                action[key] = named[action[key]]
                values.add(action[key])
    return scenario, values


def _poison(values: set[str]) -> list[bytes]:
    """An ApplicationReceived with an applicant field its contract lacks (carrying an e-mail and a
    name), and the same event cut short (undecodable)."""
    event = json.loads((ROOT / "contracts" / "examples" / "ApplicationReceived" / "v1" / "typical.json")
                       .read_text())
    name, email = PEOPLE["KBH"]
    event["event_id"] = str(uuid.uuid4())
    event["payload"]["applicant"]["name"] = name
    event["payload"]["applicant"]["email"] = email
    whole = json.dumps(event).encode()
    return [whole, whole[: whole.index(email.encode()) + len(email)]]


async def _consumer_groups_of(stack_services: dict[str, Any], topic: str) -> set[str]:
    groups: set[str] = set()
    async with httpx.AsyncClient() as http:
        for svc in stack_services.values():
            health = (await http.get(f"{svc.http_url}/health")).json()
            groups |= {name for name, c in health["consumers"].items() if topic in c["topics"]}
    return groups


async def _all_records(kafka: str) -> list[Any]:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        names = sorted(await admin.list_topics())
    finally:
        await admin.close()
    return await log_records(kafka, names, group_prefix="pii-scan")


def _leaks(text: str, values: set[str]) -> list[str]:
    lowered = text.lower()
    return [v for v in values if v.lower() in lowered]


def test_no_personal_data_in_keys_headers_or_logs(tmp_path: Path) -> None:
    home = tmp_path / "stack"
    scenario, values = pii_scenario()
    path = tmp_path / "pii-round.json"
    path.write_text(json.dumps(scenario))
    stack = EmbeddedStack(home, durable=False, die_with_parent=True)
    state = stack.up(simulation=True)
    try:
        out = tmp_path / "result.json"
        done = subprocess.run(
            [sys.executable, "-m", "grants.cli", "scenario", "run", str(path), "--out", str(out),
             "--no-progress"], cwd=ROOT, env={**os.environ, "GRANTS_HOME": str(home)},
            capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        result = json.loads(out.read_text())["applications"]
        expected = json.loads((SCENARIOS / "example-small.expected.json").read_text())
        for ref, fields in expected.items():
            if ref in ("sub_pools", "audit"):
                continue
            for key in ("intake", "decision", "paid_oere", "repayment_oere"):
                if key in fields:
                    assert result[ref][key] == fields[key], (ref, key, result[ref])

        records, letters = asyncio.run(_poison_and_read(state, values))
        assert letters, "the poison records were not dead-lettered"

        found: list[str] = []
        for name in {r.topic for r in records}:
            found += [f"topic name {name}: {leak!r}" for leak in _leaks(name, values)]
        for r in records:
            where = f"{r.topic}[{r.partition}]@{r.offset}"
            for leak in _leaks((r.key or b"").decode(errors="replace"), values):
                found.append(f"key of {where}: {leak!r}")
            for k, v in r.headers:
                for leak in _leaks(f"{k}={v.decode(errors='replace')}", values):
                    found.append(f"header {k} of {where}: {leak!r}")
        logs = sorted((home / "logs").glob("*.log"))
        assert {p.stem for p in logs} >= {"intake", "assessment", "payments", "reporting"}
        for log in logs:
            for n, line in enumerate(log.read_text(errors="replace").splitlines(), 1):
                for leak in _leaks(line, values):
                    found.append(f"{log.name}:{n}: {leak!r} in {line[:300]}")
        assert not found, "personal data outside payloads:\n" + "\n".join(sorted(found)[:40])
    finally:
        stack.down()


async def _poison_and_read(state: Any, values: set[str]) -> tuple[list[Any], list[Any]]:
    kafka = state.kafka_bootstrap
    topic = topics.INTAKE_APPLICATIONS.name
    groups = await _consumer_groups_of(state.services, topic)
    assert groups, f"nothing consumes {topic}?"
    poison = _poison(values)
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all")
    await producer.start()
    try:
        for value in poison:
            await producer.send_and_wait(topic, value, key=str(uuid.uuid4()).encode(),
                                         headers=[("event_type", b"ApplicationReceived")])
    finally:
        await producer.stop()

    letters: list[Any] = []

    async def every_group_dead_lettered_both() -> bool:
        nonlocal letters
        records = await _all_records(kafka)
        letters = [r for r in records if r.topic == topics.INTAKE_APPLICATIONS.dead_letter
                   and r.value in poison]
        got = {(r.header("dlt-consumer-group"), r.value) for r in letters}
        return got >= {(g, v) for g in groups for v in poison}

    await eventually(every_group_dead_lettered_both, timeout=60, interval=0.5)
    return await _all_records(kafka), letters

"""The organisation register (issue 15) in the assessment service, on the real broker and
PostgreSQL: files loaded at start-up and over HTTP (versioned by content, a bad row refused
naming its line and field), a caseworker's change (one event each, the history kept), every
change published on the pools topic, and prior awards naming the CVR.

Checked to fail without the change: without the start-up hook (``register_files_hook`` not
appended) the first assertion fails; with ``RegisterStore.record`` not writing history the
history assertion fails; without the ``register:organisations`` events in the outbox the read
from Kafka times out.
"""

from __future__ import annotations

import random
import uuid
from pathlib import Path

import pytest

from contracts import topics
from contracts.register import cvr_is_valid
from servicekit.identity import DevTokenIssuer
from services.assessment.app import build
from services.assessment.settings import AssessmentSettings
from tests.infra.services import Tokens, envelope_field, outbox_events, read_topic, serving

pytestmark = pytest.mark.integration
HEADER = "cvr,name,kind,municipality_code,region_code\n"


def fresh_cvrs(n: int) -> list[str]:
    """CVR numbers no other test uses (valid modulus 11)."""
    found: list[str] = []
    while len(found) < n:
        candidate = f"{random.randrange(10**7, 10**8):08d}"
        if cvr_is_valid(candidate) and candidate not in found:
            found.append(candidate)
    return found


async def test_register_files_changes_history_events_and_prior_awards(
        kafka_bootstrap: str, fresh_database: str, tmp_path: Path) -> None:
    a, b, c, d = fresh_cvrs(4)
    shipped = tmp_path / "it-register.csv"
    shipped.write_text(HEADER + f"{a},Foreningen A,voluntary_organisation,101,\n"
                       f"{b},Foreningen B,voluntary_organisation,101,1084\n", encoding="utf-8")
    issuer = DevTokenIssuer(tmp_path / "keys")
    token = Tokens(issuer)
    caseworker, auditor = token("cw-1", "caseworker"), token("au-1", "auditor")
    server, _, database = fresh_database.rpartition("/")
    settings = AssessmentSettings(
        service_name=f"assessment-it-{uuid.uuid4().hex[:8]}", kafka_bootstrap=kafka_bootstrap,
        pg_url=server, database=database, auth_public_key_file=issuer.public_key_file,
        register_files=str(shipped))
    runtime, app = build(settings)
    async with serving(app) as http:
        # -- the file named in GRANTS_REGISTER_FILES was loaded at start-up -------------------
        got = await http.get(f"/organisations/{a}", headers=auditor)
        assert got.status_code == 200, got.text
        assert got.json() | {"revision": 0} == {
            "cvr": a, "name": "Foreningen A", "kind": "voluntary_organisation",
            "municipality_code": "101", "region_code": "1084", "entry_version": 1,
            "revision": 0, "source": "it-register"}
        listed = await http.get("/organisations?municipality_code=101&kind="
                                "voluntary_organisation", headers=auditor)
        assert {o["cvr"] for o in listed.json()["organisations"]} >= {a, b}

        # -- a caseworker's change: one event, a repeat none, a bad one refused by field --------
        change = {"cvr": a, "name": "Foreningen A", "kind": "voluntary_organisation",
                  "municipality_code": "147"}
        assert (await http.post("/organisations", json=change)).status_code == 401
        assert (await http.post("/organisations", json=change, headers=auditor)).status_code == 403
        moved = await http.post("/organisations", json=change, headers=caseworker)
        assert moved.status_code == 201, moved.text
        assert (moved.json()["change"], moved.json()["entry_version"],
                moved.json()["region_code"]) == ("updated", 2, "1084")
        same = await http.post("/organisations", json=change, headers=caseworker)
        assert same.status_code == 200 and same.json()["recorded"] is False
        bad = await http.post("/organisations", headers=caseworker, json={
            "cvr": "12345678", "name": "x", "kind": "club", "municipality_code": "999"})
        assert bad.status_code == 422 and bad.json()["error"] == "register_invalid"
        assert {r["path"] for r in bad.json()["reasons"]} == {"cvr", "kind", "municipality_code"}
        history = (await http.get(f"/organisations/{a}/history", headers=auditor)).json()
        assert [(h["change"], h["organisation"]["municipality_code"], h["source"])
                for h in history["changes"]] == [("created", "101", "it-register"),
                                                 ("updated", "147", "caseworker")]
        assert history["changes"][1]["previous"]["municipality_code"] == "101"
        assert history["changes"][1]["changed_by"] == "cw-1"
        unknown = await http.get(f"/organisations/{c}", headers=auditor)
        assert unknown.status_code == 404 and unknown.json()["error"] == "organisation_unknown"

        # -- a file over HTTP: versioned by content, a bad row names its line and field --------
        path = "/register/sources/it-upload"
        body = HEADER + f"{c},Odense Frivillig,voluntary_organisation,461,\n"
        first = await http.post(path, content=body, headers=caseworker)
        assert first.status_code == 200, first.text
        assert (first.json()["version"], first.json()["changed"], first.json()["loaded"]) == (
            1, 1, True)
        again = await http.post(path, content=body, headers=caseworker)
        assert (again.json()["version"], again.json()["loaded"]) == (1, False)
        second = await http.post(path, content=body + f"{d},Nyborg Frivillig,"
                                 "voluntary_organisation,450,\n", headers=caseworker)
        assert (second.json()["version"], second.json()["changed"]) == (2, 1)
        broken = await http.post(path, headers=caseworker,
                                 content=body + f"{d},Nowhere,voluntary_organisation,999,\n")
        assert broken.status_code == 422 and broken.json()["error"] == "register_invalid"
        assert [r["path"] for r in broken.json()["reasons"]] == ["3.municipality_code"]
        huge = await http.post(path, headers=caseworker, content=b"x" * (64 * 1024 * 1024 + 1))
        assert huge.status_code == 413 and huge.json()["error"] == "register_too_large"

        # -- prior awards name the CVR ------------------------------------------------------------
        programme = f"it-register-{uuid.uuid4().hex[:6]}"
        url = f"/programmes/{programme}/prior-awards"
        by_cvr = await http.post(url, json={"cvr": b, "pool_id": "old-round"}, headers=caseworker)
        assert by_cvr.status_code == 201, by_cvr.text
        assert (by_cvr.json()["cvr"], by_cvr.json()["kind"], by_cvr.json()["municipality_code"]
                ) == (b, "voluntary_organisation", "101")
        mismatch = await http.post(url, json={"cvr": b, "municipality_code": "751",
                                              "pool_id": "old-round"}, headers=caseworker)
        assert mismatch.status_code == 422
        assert mismatch.json()["error"] == "applicant_register_mismatch"
        nobody = await http.post(url, json={"cvr": fresh_cvrs(1)[0], "pool_id": "old-round"},
                                 headers=caseworker)
        assert nobody.status_code == 422 and nobody.json()["error"] == "organisation_unknown"
        neither = await http.post(url, json={"pool_id": "old-round"}, headers=caseworker)
        assert neither.status_code == 422
        municipality = await http.post(url, json={"municipality_code": "665",
                                                  "pool_id": "old-round"}, headers=caseworker)
        assert municipality.status_code == 201 and municipality.json()["kind"] == "municipality"

        # -- every change is an event of the register's aggregate, on the pools topic ----------
        recorded = await outbox_events(runtime, "OrganisationRecorded")
        assert [e["payload"]["revision"] for e in recorded] == list(range(1, 6))
        assert {e["aggregate_id"] for e in recorded} == {"register:organisations"}
        loads = await outbox_events(runtime, "RegisterSourceLoaded")
        assert [(e["payload"]["source"], e["payload"]["source_version"]) for e in loads] == [
            ("it-register", 1), ("it-upload", 1), ("it-upload", 2)]
        ids = {e["event_id"] for e in recorded}
        on_log = await read_topic(kafka_bootstrap, topics.ASSESSMENT_POOLS.name,
                                  lambda r: envelope_field(r, "event_id") in ids,
                                  enough=lambda found: len(found) == len(ids))
        assert {r.key for r in on_log} == {b"register:organisations"}

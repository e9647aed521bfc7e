"""R24: awards and disbursements as 360Giving JSON (schema-valid) and CSV (spreadsheet titles)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from contracts.payments import AwardLapsed
from services.reporting.domain.exports import (
    CSV_COLUMNS, dkk, export_360giving, export_360giving_csv, to_csv, to_json,
)
from services.reporting.domain.grant_file import GrantFile, evolve
from tests.unit.reporting.builders import at, envelope, example_round
from tests.unit.reporting.grants import awarded

DATA = Path(__file__).parent / "data"
GRANT_SCHEMA = json.loads((DATA / "360-giving-schema.json").read_text())
PACKAGE_SCHEMA = json.loads((DATA / "360-giving-package-schema.json").read_text())
GRANT_SCHEMA_URL = PACKAGE_SCHEMA["properties"]["grants"]["items"]["$ref"]
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")

FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time")
def _is_date_time(value: object) -> bool:
    """RFC 3339 date-time (jsonschema checks it only with an optional extra installed)."""
    if not isinstance(value, str) or not _DATE_TIME.match(value):
        return False
    datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    return True


def validator() -> jsonschema.Draft4Validator:
    registry = Registry().with_resource(
        GRANT_SCHEMA_URL, Resource.from_contents(GRANT_SCHEMA, default_specification=DRAFT4))
    return jsonschema.Draft4Validator(PACKAGE_SCHEMA, registry=registry, format_checker=FORMATS)


def grant_files() -> tuple[list[GrantFile], dict[str, UUID]]:
    """The example round's grant files, built by routing every event as the handler would."""
    rnd = example_round()
    files: dict[UUID, GrantFile] = {}
    owner: dict[UUID, UUID] = {}
    for logged in rnd.log.events:
        payload = logged.envelope.payload
        if logged.envelope.event_type == "PaymentInstructed":
            owner[payload.instruction_id] = payload.application_id
        app_id = getattr(payload, "application_id", None) or owner.get(
            getattr(payload, "instruction_id", None))  # type: ignore[arg-type]
        if app_id is None:
            continue
        files[app_id] = evolve(files.get(app_id) or GrantFile.new(app_id), logged.envelope)
    return list(files.values()), rnd.app


def as_wire(package: dict[str, Any]) -> Any:
    return json.loads(to_json(package), parse_float=Decimal)


def test_the_export_validates_against_the_360giving_package_schema() -> None:
    files, _ = grant_files()
    package = export_360giving(files)
    validator().validate(as_wire(package))
    assert len(package["grants"]) == 2  # only the awards; GENTOFTE and RANDERS were not funded


def test_the_validator_does_catch_a_broken_grant() -> None:
    files, _ = grant_files()
    wire = as_wire(export_360giving(files))
    del wire["grants"][0]["recipientOrganization"]
    with pytest.raises(jsonschema.ValidationError):
        validator().validate(wire)
    wire = as_wire(export_360giving(files))
    wire["grants"][0]["awardDate"] = "01/06/2025"
    with pytest.raises(jsonschema.ValidationError):
        validator().validate(wire)


def test_the_grant_fields() -> None:
    files, app = grant_files()
    grants = {g["id"]: g for g in export_360giving(files, funder_id="XI-TEST")["grants"]}
    kbh = grants[f"360G-sbst-{app['KBH']}"]
    assert kbh["currency"] == "DKK"
    assert kbh["amountAwarded"] == Decimal("1500000.00")
    assert kbh["amountAppliedFor"] == Decimal("1500000.00")
    assert kbh["amountDisbursed"] == Decimal("1500000.00")
    assert kbh["awardDate"] == "2025-06-01"
    assert kbh["recipientOrganization"] == [{"id": "DK-CVR-27998194",
                                             "name": "København Kommune"}]
    assert kbh["fundingOrganization"] == [{"id": "XI-TEST", "name": "Social- og Boligstyrelsen"}]
    assert kbh["plannedDates"] == [{"startDate": "2025-07-01", "endDate": "2025-12-31"}]
    assert kbh["grantProgramme"] == [{"code": "example-2025", "title": "example-2025"}]
    assert kbh["beneficiaryLocation"] == [{"name": "København Kommune", "geoCode": "101",
                                           "countryCode": "DK"}]
    assert [t["value"] for t in kbh["disbursementTransaction"]] == [
        Decimal("750000.00"), Decimal("750000.00")]
    assert sum(t["value"] for t in kbh["disbursementTransaction"]) == kbh["amountDisbursed"]
    titled = export_360giving(files, pool_titles={"example-2025": "Familiehuse 2025"})
    assert titled["grants"][0]["title"].startswith("Familiehuse 2025: ")


def test_amounts_are_exact_decimals_in_json() -> None:
    assert dkk(150_000_001) == Decimal("1500000.01")
    assert dkk(1) == Decimal("0.01")
    text = to_json({"grants": [{"amountAwarded": dkk(150_000_001)}]}, indent=None)
    assert text == '{"grants": [{"amountAwarded": 1500000.01}]}'
    assert json.loads(text, parse_float=Decimal)["grants"][0]["amountAwarded"] == Decimal(
        "1500000.01")


def test_to_json_escapes_text() -> None:
    assert json.loads(to_json({"a": ['æøå "q"', None, True, 3, {}], "b": []})) == {
        "a": ['æøå "q"', None, True, 3, {}], "b": []}


def test_lapsed_and_unawarded_files_are_not_exported() -> None:
    state = awarded()
    lapsed = evolve(state, envelope(AwardLapsed(application_id=state.application_id,
                                                reason="acceptance_deadline_passed",
                                                lapsed_at=at("2025-07-02T00:00:00+02:00")),
                                    at("2025-07-02T00:00:00+02:00")))
    assert export_360giving([lapsed, GrantFile.new(state.application_id)]) == {"grants": []}


def _titles(schema: dict[str, Any], path: tuple[str | int, ...]) -> str:
    """The spreadsheet column title of a JSON path, read from the schema's own titles."""
    titles, node = [], schema
    for step in path:
        if isinstance(step, int):
            continue
        prop = node["properties"][step]
        if "$ref" in prop:
            prop = schema["definitions"][prop["$ref"].split("/")[-1]]
        titles.append(prop["title"])
        if prop.get("type") == "array":
            ref = prop["items"]["$ref"].split("/")[-1]
            node = schema["definitions"][ref]
    return ":".join(titles)


def test_csv_columns_are_the_schema_titles_of_their_paths() -> None:
    for title, path in CSV_COLUMNS:
        assert _titles(GRANT_SCHEMA, path) == title


def test_csv_rows_flatten_the_json_grants() -> None:
    files, _ = grant_files()
    package = export_360giving(files)
    text = export_360giving_csv(files)
    assert text == to_csv(package)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == [title for title, _ in CSV_COLUMNS]
    assert "Recipient Org:Identifier" in rows[0]
    for row, grant in zip(rows, package["grants"], strict=True):
        assert row["Identifier"] == grant["id"]
        assert Decimal(row["Amount Awarded"]) == grant["amountAwarded"]
        assert Decimal(row["Amount Disbursed"]) == grant["amountDisbursed"]
        assert row["Recipient Org:Identifier"] == grant["recipientOrganization"][0]["id"]
        assert row["Planned Dates:End Date"] == grant["plannedDates"][0]["endDate"]
    assert rows[0]["Amount Awarded"].endswith(".00")

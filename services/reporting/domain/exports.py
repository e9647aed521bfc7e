"""Awards and disbursements in the 360Giving data standard (R24): JSON and flat CSV.

One grant per award that did not lapse, from its :class:`GrantFile`. Amounts are DKK as exact
decimals (øre / 100, two places): :func:`to_json` writes them as JSON numbers without passing
through float. CSV columns use the 360Giving spreadsheet titles (``Recipient Org:Identifier``
…), one row per grant; disbursement transactions are in the JSON only (a spreadsheet would put
them on a sheet of their own), their sum is ``Amount Disbursed`` in both.

Identifiers: grant ``360G-sbst-<application id>``; recipient ``DK-CVR-<cvr>`` (org-id.guide's
Danish company register list); funder ``funder_id`` — the agency's organisation identifier,
given by the caller's settings (the default is this publisher's 360Giving prefix).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from services.reporting.domain.grant_file import GrantFile
from services.reporting.domain.rules import COPENHAGEN

GRANT_ID_PREFIX = "360G-sbst-"
FUNDER_NAME = "Social- og Boligstyrelsen"
DEFAULT_FUNDER_ID = "360G-sbst"


def dkk(oere: int) -> Decimal:
    """Exact DKK with two decimals: 150000001 øre → Decimal('1500000.01')."""
    return (Decimal(oere) / 100).quantize(Decimal("0.01"))


def grant_record(
    file: GrantFile, *, funder_id: str = DEFAULT_FUNDER_ID,
    pool_titles: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One 360Giving grant object for an awarded grant file."""
    award = file.award
    if award is None:
        raise ValueError("a grant file without an award has nothing to export")
    pool_title = (pool_titles or {}).get(award.pool_id, award.pool_id)
    period = award.project_period
    location = award.recipient_name if award.recipient_kind == "municipality" else (
        f"municipality {award.municipality_code}")
    disbursements = [
        {
            "id": f"{GRANT_ID_PREFIX}{instruction_id}",
            "transactionDate": (i.executed_at.astimezone(COPENHAGEN).date().isoformat()
                                if i.executed_at else i.due_date.isoformat()),
            "value": dkk(i.amount_oere),
            "currency": "DKK",
        }
        for instruction_id, i in sorted(file.instructions.items()) if i.outcome == "executed"
    ]
    record: dict[str, Any] = {
        "id": f"{GRANT_ID_PREFIX}{file.application_id}",
        "title": f"{pool_title}: {award.recipient_name}"[:140],
        "description": (f"Grant from the pool {pool_title} (programme {award.programme}) to "
                        f"{award.recipient_name} for the project period {period.start.isoformat()}"
                        f" to {period.end.isoformat()}."),
        "currency": "DKK",
        "amountAppliedFor": dkk(award.applied_oere),
        "amountAwarded": dkk(award.amount_oere),
        "amountDisbursed": dkk(file.paid_oere),
        "awardDate": award.awarded_at.astimezone(COPENHAGEN).date().isoformat(),
        "plannedDates": [{"startDate": period.start.isoformat(),
                          "endDate": period.end.isoformat()}],
        "recipientOrganization": [{"id": f"DK-CVR-{award.cvr}", "name": award.recipient_name}],
        "fundingOrganization": [{"id": funder_id, "name": FUNDER_NAME}],
        "grantProgramme": [{"code": award.programme, "title": pool_title}],
        "beneficiaryLocation": [{"name": location, "geoCode": award.municipality_code,
                                 "countryCode": "DK"}],
    }
    if disbursements:
        record["disbursementTransaction"] = disbursements
    return record


def export_360giving(
    files: Iterable[GrantFile], *, funder_id: str = DEFAULT_FUNDER_ID,
    pool_titles: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``{"grants": [...]}``, sorted by grant id; lapsed awards and unawarded files left out."""
    grants = [grant_record(f, funder_id=funder_id, pool_titles=pool_titles)
              for f in files if f.award is not None and not f.lapsed]
    return {"grants": sorted(grants, key=lambda g: g["id"])}


def to_json(data: Any, indent: int | None = 2) -> str:
    """JSON with :class:`~decimal.Decimal` written as an exact number (``1500000.01``)."""
    return _encode(data, indent, 0)


def _encode(value: Any, indent: int | None, depth: int) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        items = [f"{json.dumps(str(k), ensure_ascii=False)}: {_encode(v, indent, depth + 1)}"
                 for k, v in value.items()]
        return _join(items, "{", "}", indent, depth)
    if isinstance(value, list | tuple):
        return _join([_encode(v, indent, depth + 1) for v in value], "[", "]", indent, depth)
    return json.dumps(value, ensure_ascii=False)


def _join(items: list[str], open_: str, close: str, indent: int | None, depth: int) -> str:
    if not items:
        return open_ + close
    if indent is None:
        return open_ + ", ".join(items) + close
    inner = "\n" + " " * (indent * (depth + 1))
    return open_ + inner + ("," + inner).join(items) + "\n" + " " * (indent * depth) + close


# (column title, path into the grant object); list items are the first (only) item.
CSV_COLUMNS: tuple[tuple[str, tuple[str | int, ...]], ...] = (
    ("Identifier", ("id",)),
    ("Title", ("title",)),
    ("Description", ("description",)),
    ("Currency", ("currency",)),
    ("Amount Applied For", ("amountAppliedFor",)),
    ("Amount Awarded", ("amountAwarded",)),
    ("Amount Disbursed", ("amountDisbursed",)),
    ("Award Date", ("awardDate",)),
    ("Planned Dates:Start Date", ("plannedDates", 0, "startDate")),
    ("Planned Dates:End Date", ("plannedDates", 0, "endDate")),
    ("Recipient Org:Identifier", ("recipientOrganization", 0, "id")),
    ("Recipient Org:Name", ("recipientOrganization", 0, "name")),
    ("Funding Org:Identifier", ("fundingOrganization", 0, "id")),
    ("Funding Org:Name", ("fundingOrganization", 0, "name")),
    ("Grant Programme:Code", ("grantProgramme", 0, "code")),
    ("Grant Programme:Title", ("grantProgramme", 0, "title")),
    ("Beneficiary Location:Name", ("beneficiaryLocation", 0, "name")),
    ("Beneficiary Location:Geographic Code", ("beneficiaryLocation", 0, "geoCode")),
    ("Beneficiary Location:Country Code", ("beneficiaryLocation", 0, "countryCode")),
)


def to_csv(package: Mapping[str, Any]) -> str:
    """The grants of :func:`export_360giving` as CSV with 360Giving column titles."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([title for title, _path in CSV_COLUMNS])
    for grant in package["grants"]:
        writer.writerow([_cell(grant, path) for _title, path in CSV_COLUMNS])
    return out.getvalue()


def _cell(grant: Mapping[str, Any], path: tuple[str | int, ...]) -> str:
    value: Any = grant
    for step in path:
        value = value[step]
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def export_360giving_csv(
    files: Iterable[GrantFile], *, funder_id: str = DEFAULT_FUNDER_ID,
    pool_titles: Mapping[str, str] | None = None,
) -> str:
    return to_csv(export_360giving(files, funder_id=funder_id, pool_titles=pool_titles))

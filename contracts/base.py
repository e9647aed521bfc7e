"""Building blocks shared by every contract: frozen models, money, time, identities.

Rules that hold for every contract:
- models are frozen and refuse unknown keys (``extra="forbid"``): a producer that sends a field
  the consumer does not know is a contract break, found at once instead of silently dropped;
- money is integer øre (``Oere``), never float; the currency is DKK;
- instants are timezone-aware and normalised to UTC on the wire.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StrictInt

from contracts.bounds import MAX_AMOUNT_OERE, MAX_LIST, MAX_QUANTITY, single_line


class Contract(BaseModel):
    """Base of every event payload, command and nested value in ``contracts``."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""An instant: offset required on input, stored and sent as UTC."""

Oere = Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT_OERE,
                                  description="amount in øre (1 DKK = 100 øre), at most 10^15")]
"""Non-negative integer amount of money in øre, at most ``contracts.bounds.MAX_AMOUNT_OERE``."""

Currency = Literal["DKK"]

Cvr = Annotated[str, Field(pattern=r"^[0-9]{8}$", description="Danish CVR number, 8 digits")]
MunicipalityCode = Annotated[str, Field(pattern=r"^[0-9]{3}$", description="3-digit code")]
RegionCode = Annotated[str, Field(pattern=r"^[0-9]{4}$", description="4-digit region code")]
ReasonCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", description="stable reason code")]

_YEAR_MONTH = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")


def _check_year_month(value: str) -> str:
    if not _YEAR_MONTH.match(value):
        raise ValueError("must be YYYY-MM")
    return value


YearMonth = Annotated[str, AfterValidator(_check_year_month)]


def post_key(post: str) -> str:
    """When two budget post names are the same post: case and spacing do not matter
    ("Project staff" and "project  staff "). Intake (unique posts in an application) and payments
    (new posts in a revised budget, R16) compare posts by this key."""
    return " ".join(post.split()).casefold()

Role = Literal[
    "applicant", "caseworker", "assessor", "approver", "finance", "auditor", "system"
]


class Actor(Contract):
    """Who caused an event: a pseudonymous id (never a name or CPR number) and a role."""

    id: Annotated[str, Field(min_length=1, max_length=128)]
    role: Role


ApplicantKind = Literal[
    "municipality", "region", "voluntary_organisation", "private_supplier", "other"
]


class Applicant(Contract):
    """The applying organisation. ``kind`` is checked against the pool's applicant group (R10).

    In a submission these are the client's claims, checked against the organisation register
    (``municipality_code``, and ``kind`` / ``region_code`` when given); in intake's
    ``ApplicationReceived`` and everything after it they are the register's entry for the CVR
    (``region_code`` set), never what the client typed (R2, R4).
    """

    cvr: Cvr
    municipality_code: MunicipalityCode
    name: single_line(200, min_length=1)
    kind: ApplicantKind = "municipality"
    region_code: RegionCode | None = None


class BudgetLine(Contract):
    """One post of an indicative budget; salary lines carry rate × quantity = amount."""

    post: single_line(200, min_length=1)
    category: Literal["salary", "other"]
    rate_oere: Oere | None = None
    quantity: Annotated[StrictInt, Field(ge=0, le=MAX_QUANTITY)] | None = None
    amount_oere: Oere


class IndicativeBudget(Contract):
    """The whole project period's budget (not per month); ``total_oere`` is entered on its own."""

    lines: Annotated[list[BudgetLine], Field(max_length=MAX_LIST)]
    total_oere: Oere


class ProjectPeriod(Contract):
    start: date
    end: date
    delayed_start_allowed: bool = True


class Reason(Contract):
    """A rejection reason with where it applies (a field path, a month, a post)."""

    code: ReasonCode
    path: str | None = None
    message: str = ""

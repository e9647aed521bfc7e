"""The pool definition format (the JSON of ``shared/data/pools/*.json``, amounts in DKK).

Assessment owns pools: it validates a definition, versions it and publishes ``PoolPublished``;
other services learn deadlines, periods and schedules from that event. The scenario runner uses the
same model to refuse a malformed scenario before anything runs.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from contracts.base import ApplicantKind, Contract, RegionCode
from contracts.municipalities import municipalities

Dkk = Annotated[Decimal, Field(ge=0, decimal_places=2, description="amount in DKK, ≤ 2 decimals")]
PaymentFrequency = Literal["monthly", "quarterly", "half_yearly", "yearly"]


def dkk_to_oere(amount: Decimal) -> int:
    """Exact conversion; ``Dkk`` already guarantees at most two decimals."""
    return int(amount * 100)


class SubPool(Contract):
    region_code: RegionCode
    region: str
    municipalities: Annotated[int, Field(ge=0)] | None = None
    amount_dkk: Dkk

    @property
    def amount_oere(self) -> int:
        return dkk_to_oere(self.amount_dkk)


class Criterion(Contract):
    id: Annotated[int, Field(ge=1)]
    name: str
    minimum_requirement: bool = False


class PoolProjectPeriod(Contract):
    start: date
    end: date
    delayed_start_allowed: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> PoolProjectPeriod:
        if self.end < self.start:
            raise ValueError("project_period.end is before project_period.start")
        return self


class PoolDefinition(Contract):
    """A pool round. Keys beyond the source files are optional, with the documented defaults."""

    pool_id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,79}$")]
    title: str
    programme: Annotated[str, Field(min_length=1)] | None = None
    programme_rounds: dict[str, Dkk] | None = None
    legal_basis: str | None = None
    currency: Literal["DKK"] = "DKK"
    total_dkk: Dkk
    applicant_group: Annotated[list[ApplicantKind], Field(min_length=1)]
    once_per_applicant_in_programme: bool = True
    expected_awards: Annotated[int, Field(ge=0)] | None = None
    deadline_local: datetime | None = None
    timezone: str = "Europe/Copenhagen"
    late_contact_window_hours: Annotated[int, Field(ge=0)] = 48
    exception_submission_window_hours: Annotated[int, Field(ge=0)] = 24
    project_period: PoolProjectPeriod
    purpose: str | None = None
    checks_purpose: bool | None = Field(
        default=None,
        description="whether the eligibility gate checks the application's purpose against "
        "`purpose`: true needs `purpose`; false says explicitly that the pool has none to check; "
        "absent: checked exactly when `purpose` is set")
    target_group: str | None = None
    admits_unregistered_applicants: bool = Field(
        default=False,
        description="an applicant whose CVR is not in the organisation register is admitted on "
        "what it typed (municipality, kind) instead of refused `applicant_unknown`")
    sub_pools: list[SubPool] = []
    criteria: Annotated[list[Criterion], Field(min_length=1)]
    minimum_requirement_threshold: Annotated[int, Field(ge=0, le=5)] = 1
    eligible_cost_categories: Annotated[
        list[Literal["salary", "other"]], Field(min_length=1)
    ] = ["salary", "other"]
    fill_with_smaller_after_exhausted: bool = True
    acceptance_deadline_days: Annotated[int, Field(ge=1)] = 30
    payment_frequency: PaymentFrequency = "quarterly"
    status_report_months: list[Annotated[int, Field(ge=1)]] = []
    final_report_due_months: Annotated[int, Field(ge=1)] = 3
    budget_rules: dict[str, str] | None = None
    source: str | None = None

    @field_validator("deadline_local")
    @classmethod
    def _naive_local(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            raise ValueError("deadline_local is a local date-time without offset; see timezone")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _consistent(self) -> PoolDefinition:
        if self.sub_pools:
            total = sum(s.amount_dkk for s in self.sub_pools)
            if total != self.total_dkk:
                raise ValueError(
                    f"sub_pools: amounts sum to {total} DKK, total_dkk is {self.total_dkk}"
                )
            codes = [s.region_code for s in self.sub_pools]
            if len(set(codes)) != len(codes):
                raise ValueError("sub_pools: a region_code appears twice")
            known = {m.region_code for m in municipalities().values()}
            for i, code in enumerate(codes):
                if code not in known:
                    raise ValueError(f"sub_pools.{i}.region_code: {code} is not a Danish region")
        if self.checks_purpose and not (self.purpose or "").strip():
            raise ValueError("purpose: a pool that checks purpose (checks_purpose) must set it")
        if self.deadline_local is not None:
            self._check_deadline_exists()
        ids = [c.id for c in self.criteria]
        if len(set(ids)) != len(ids):
            raise ValueError("criteria: a criterion id appears twice")
        return self

    def _check_deadline_exists(self) -> None:
        """Refuse a local deadline that does not exist or exists twice (DST change): the
        instant that decides on-time must be unambiguous. In a gap or an overlap the two folds
        of the local time have different offsets."""
        assert self.deadline_local is not None
        first = self.deadline_local.replace(tzinfo=self.zone, fold=0)
        second = self.deadline_local.replace(tzinfo=self.zone, fold=1)
        if first.utcoffset() != second.utcoffset():
            raise ValueError(
                "deadline_local falls in a daylight-saving change of "
                f"{self.timezone}; choose a time that exists exactly once"
            )

    @property
    def programme_id(self) -> str:
        """The programme for once-per-applicant (R2); a pool with none is its own programme."""
        return self.programme or self.pool_id

    @property
    def purpose_checked(self) -> bool:
        """The gate compares purposes only when the pool has one to compare with (R10)."""
        if self.checks_purpose is None:
            return self.purpose is not None
        return self.checks_purpose

    @property
    def total_oere(self) -> int:
        return dkk_to_oere(self.total_dkk)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def deadline_instant(self) -> datetime | None:
        """The deadline as an aware instant (DST-aware: the zone decides the offset)."""
        if self.deadline_local is None:
            return None
        return self.deadline_local.replace(tzinfo=self.zone)


def _canonical(value: Any) -> Any:
    if isinstance(value, Decimal):
        # normalize() drops trailing zeros; format "f" avoids exponent notation ("3E+6").
        return format(value.normalize(), "f")
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


# Keys added to the format after pools were first published: left out of the hash while at their
# default, so a pool published before they existed keeps its content hash (and its version).
_LATER_KEYS = {"checks_purpose": None, "admits_unregistered_applicants": False}


def content_hash(definition: PoolDefinition) -> str:
    """``sha256:<hex>`` over the canonical JSON of the validated definition (sorted keys, no
    whitespace, defaults filled in, amounts normalised so ``100`` and ``100.00`` are the same):
    a pool's version is its content, so every reader can check a ``PoolPublished``'s hash."""
    dumped = definition.model_dump(mode="python")
    for key, default in _LATER_KEYS.items():
        if dumped.get(key, default) == default:
            dumped.pop(key, None)
    canonical = json.dumps(
        _canonical(dumped),
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def tie_draw(pool_id: str, cvr: str) -> str:
    """The applicant's place in the pool's draw among equal scores (lower wins): sha256 of
    ``<pool_id>:<cvr>``, so anyone can recompute a tie-break from the published pool and register."""
    return hashlib.sha256(f"{pool_id}:{cvr}".encode()).hexdigest()

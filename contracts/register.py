"""The organisation register (R2, R4): who an applicant is, by CVR number.

Assessment owns the register (reference data, like pools) and publishes every change on the
pools topic; intake and reporting hold projections. An entry names one legal entity: its CVR,
legal name, kind, and the municipality and region of its registered address. Who applies is
looked up here by the token's CVR; what a client types about itself is a claim checked against
the entry, never the source of truth.

Revisions: every change of the register (an entry created or changed, by a file load or by a
caseworker) gets the next ``revision`` of the whole register, 1, 2, 3, … A decision that used an
entry names the revision of that entry (``ApplicationReceived.register_revision``): the
``OrganisationRecorded`` event with that revision is exactly what the register said.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from contracts.base import ApplicantKind, Contract, Cvr, MunicipalityCode, RegionCode
from contracts.municipalities import municipalities

CVR_WEIGHTS = (2, 7, 6, 5, 4, 3, 2, 1)


def cvr_is_valid(cvr: str) -> bool:
    """Modulus-11 check of a Danish CVR number: the weighted digit sum is divisible by 11."""
    if len(cvr) != 8 or not cvr.isascii() or not cvr.isdigit():
        return False
    return sum(int(d) * w for d, w in zip(cvr, CVR_WEIGHTS, strict=True)) % 11 == 0


class Organisation(Contract):
    """One register entry. ``region_code`` is the region of ``municipality_code`` (checked);
    a row may leave it out and the municipality's region is filled in."""

    cvr: Cvr
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: ApplicantKind
    municipality_code: MunicipalityCode
    region_code: RegionCode

    @model_validator(mode="before")
    @classmethod
    def _fill_region(cls, data: object) -> object:
        if isinstance(data, dict) and not data.get("region_code"):
            known = municipalities().get(str(data.get("municipality_code")))
            # An unknown municipality is reported by its own field; a placeholder keeps a
            # second, misleading "region_code: missing" out of the errors (it never validates).
            return {**data, "region_code": known.region_code if known else "0000"}
        return data

    @field_validator("cvr")
    @classmethod
    def _modulus_11(cls, value: str) -> str:
        if not cvr_is_valid(value):
            raise ValueError("fails the CVR modulus-11 check")
        return value

    @field_validator("municipality_code")
    @classmethod
    def _known_municipality(cls, value: str) -> str:
        if value not in municipalities():
            raise ValueError(f"{value} is not one of the 98 Danish municipalities")
        return value

    @field_validator("name")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.strip() or any(not ch.isprintable() for ch in value):
            raise ValueError("must be printable text")
        return value

    @model_validator(mode="after")
    def _region_of_municipality(self) -> Organisation:
        region = municipalities()[self.municipality_code].region_code
        if region != self.region_code:
            raise ValueError(f"region_code: municipality {self.municipality_code} lies in region "
                             f"{region}, not {self.region_code}")
        return self


RegisterSource = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,79}$")]


class OrganisationRecorded(Contract):
    """An entry was created or changed (one event per change; the history is the events).

    ``source`` is the register file's source id for a file load, ``caseworker`` for a change
    made over HTTP (then ``changed_by`` names the caseworker).
    """

    revision: Annotated[int, Field(ge=1)]
    entry_version: Annotated[int, Field(ge=1)]
    change: Literal["created", "updated"]
    organisation: Organisation
    previous: Organisation | None = None
    source: RegisterSource
    source_version: Annotated[int, Field(ge=1)] | None = None
    changed_by: Annotated[str, Field(min_length=1, max_length=128)]


class RegisterSourceLoaded(Contract):
    """A version of one register file (a source) was loaded: like a pool version, by content.

    The entries it created or changed are the ``OrganisationRecorded`` events before this one
    with the same ``source`` and ``source_version``; ``unchanged`` rows were already so.
    A later version adds and changes entries; it never removes one.
    """

    source: RegisterSource
    source_version: Annotated[int, Field(ge=1)]
    content_hash: str
    format: Literal["grants-register-csv", "cvr-permanent-jsonl"]
    rows: Annotated[int, Field(ge=0)]
    changed: Annotated[int, Field(ge=0)]
    unchanged: Annotated[int, Field(ge=0)]
    revision: Annotated[int, Field(ge=0)] = Field(
        description="the register's revision after the load")


def applicant_keys(cvr: str | None, kind: str | None,
                   municipality_code: str | None) -> frozenset[str]:
    """Who an award went to, for "once per applicant in the programme" (R2, R23).

    The applicant is the legal entity: its CVR. A municipality is also its municipality (a pool
    for municipalities funds each municipality once, whatever CVR a record names it by), and a
    record that names no CVR and no kind (an imported prior award of a municipality, or any event
    from before the register) names the municipality. Two awards are to the same applicant when
    their keys meet: two organisations located in one municipality are two applicants.
    """
    keys = set()
    if cvr:
        keys.add(f"cvr:{cvr}")
    if municipality_code and (kind == "municipality" or (kind is None and not cvr)):
        keys.add(f"municipality:{municipality_code}")
    return frozenset(keys)

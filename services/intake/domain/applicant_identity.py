"""Who the applicant is (R2, R4): the organisation register's entry, never the client's typing.

The token's organisation (its ``cvr`` claim, which authorisation has matched to the applicant's
CVR) is looked up in intake's projection of the register. What the submission types about the
applicant are claims: a municipality code, and a kind or a region code when given, that differ
from the entry refuse the submission (``applicant_register_mismatch``, naming the field); the
name is not compared (the register's legal name is used). A CVR the register does not hold is
refused ``applicant_unknown`` — unless the pool admits unregistered applicants
(``admits_unregistered_applicants``), when the typed values are used, the region is the typed
municipality's, and the version records no register revision.

The version intake stores (``ApplicationReceived.applicant``) is the register's entry, with its
region, and ``register_revision`` says which revision of the register it came from.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.base import Applicant, Reason
from contracts.municipalities import region_of
from contracts.pools import PoolDefinition
from contracts.register import Organisation

from services.intake.domain.reason_codes import reason


# Who the applicant is is looked up only once its CVR and municipality code are well-formed
# (reasons at these paths come first: cvr_invalid, municipality_unknown).
IDENTITY_PATHS = frozenset({"applicant.cvr", "applicant.municipality_code"})


@dataclass(frozen=True)
class RegisterEntry:
    """An entry of intake's register projection: the organisation and its revision."""

    organisation: Organisation
    revision: int


@dataclass(frozen=True)
class Identified:
    """The applicant as the register has it, or the reasons the submission is refused."""

    applicant: Applicant | None
    register_revision: int | None
    reasons: tuple[Reason, ...] = ()


def _mismatch(field: str, typed: str, registered: str) -> Reason:
    return reason("applicant_register_mismatch", f"applicant.{field}",
                  f"the organisation register has {field} {registered} for this CVR, "
                  f"not {typed}")


def identify_applicant(typed: Applicant, entry: RegisterEntry | None,
                       pool: PoolDefinition) -> Identified:
    """The register's applicant for ``typed.cvr``, checked against what was typed."""
    if entry is None:
        if not pool.admits_unregistered_applicants:
            return Identified(None, None, (reason("applicant_unknown", "applicant.cvr"),))
        region = region_of(typed.municipality_code)
        if typed.region_code is not None and typed.region_code != region:
            return Identified(None, None, (reason(
                "region_not_of_municipality", "applicant.region_code",
                f"municipality {typed.municipality_code} lies in region {region}"),))
        return Identified(typed.model_copy(update={"region_code": region}), None)
    registered = entry.organisation
    given = typed.model_fields_set
    problems = []
    if typed.municipality_code != registered.municipality_code:
        problems.append(_mismatch("municipality_code", typed.municipality_code,
                                  registered.municipality_code))
    if "kind" in given and typed.kind != registered.kind:
        problems.append(_mismatch("kind", typed.kind, registered.kind))
    if typed.region_code is not None and typed.region_code != registered.region_code:
        problems.append(_mismatch("region_code", typed.region_code, registered.region_code))
    if problems:
        return Identified(None, None, tuple(problems))
    applicant = Applicant(cvr=registered.cvr, municipality_code=registered.municipality_code,
                          name=registered.name, kind=registered.kind,
                          region_code=registered.region_code)
    return Identified(applicant, entry.revision)

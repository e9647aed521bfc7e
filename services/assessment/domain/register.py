"""The organisation register (R2, R4): deciding its changes, and prior awards by CVR.

Assessment owns the register as it owns pools. Two ways to change it, one event per change
(``OrganisationRecorded``, the register's history):

- **a register file**, one per source (``deploy/register/*.csv`` on the embedded stack; the CVR
  register's export in production; formats in :mod:`.register_files`), versioned by content like
  a pool: loading the same content again changes nothing; other content is the source's next
  version, whose new and changed rows become events, followed by one ``RegisterSourceLoaded``.
  A later version adds and changes entries, it never removes one (decisions and prior awards
  keep naming it);
- **a caseworker's change** of one entry over HTTP (:func:`decide_change`).

Pure: no I/O, no clock; the adapter passes the current entries of the CVRs concerned and the
register's revision.
"""


from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from contracts.assessment import PriorAwardImported
from contracts.register import Organisation, OrganisationRecorded, RegisterSourceLoaded
from contracts.refusal import Refusal
from services.assessment.domain.register_files import ParsedFile, row_problems

Known = TypeVar("Known")

class RegisterEntry(BaseModel):
    """What the register holds for one CVR: the organisation and where it came from."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    organisation: Organisation
    entry_version: int
    revision: int
    source: str

    @classmethod
    def from_event(cls, event: OrganisationRecorded) -> RegisterEntry:
        return cls(organisation=event.organisation, entry_version=event.entry_version,
                   revision=event.revision, source=event.source)


def _recorded(current: RegisterEntry | None, organisation: Organisation, revision: int,
              source: str, source_version: int | None, changed_by: str) -> OrganisationRecorded:
    return OrganisationRecorded(
        revision=revision, entry_version=1 if current is None else current.entry_version + 1,
        change="created" if current is None else "updated", organisation=organisation,
        previous=None if current is None else current.organisation, source=source,
        source_version=source_version, changed_by=changed_by)


@dataclass(frozen=True)
class SourceVersion:
    """The version of a register source in force (``None`` before its first load)."""

    source: str
    version: int
    content_hash: str


RegisterEvent = OrganisationRecorded | RegisterSourceLoaded


def decide_load(source: str, parsed: ParsedFile, in_force: SourceVersion | None,
                current: Mapping[str, RegisterEntry], revision: int,
                changed_by: str) -> list[RegisterEvent]:
    """Load a parsed file as ``source``'s next version: ``[]`` when its content is the version
    in force; else an ``OrganisationRecorded`` per new or changed row (revisions from
    ``revision + 1``, in file order) and the ``RegisterSourceLoaded`` that closes the load.

    ``current`` holds the register's entries for the file's CVRs (others may be left out).
    """
    if in_force is not None and in_force.content_hash == parsed.content_hash:
        return []
    version = 1 if in_force is None else in_force.version + 1
    events: list[RegisterEvent] = []
    for organisation in parsed.organisations:
        entry = current.get(organisation.cvr)
        if entry is not None and entry.organisation == organisation:
            continue
        revision += 1
        events.append(_recorded(entry, organisation, revision, source, version, changed_by))
    events.append(RegisterSourceLoaded(
        source=source, source_version=version, content_hash=parsed.content_hash,
        format=parsed.format, rows=len(parsed.organisations), changed=len(events),
        unchanged=len(parsed.organisations) - len(events), revision=revision))
    return events


def changed_cvr(raw: Any) -> str | None:
    """The CVR whose entry a change names, read before the change is judged (so that it is
    judged against that entry); anything but a string names none."""
    cvr = raw.get("cvr") if isinstance(raw, Mapping) else None
    return cvr if isinstance(cvr, str) else None


def require_known(found: Known | None) -> Known:
    """What the register holds of a CVR (its entry, its history); nothing is refused."""
    if not found:
        raise Refusal("organisation_unknown", "no organisation with this CVR", "not_found")
    return found


def decide_change(current: RegisterEntry | None, raw: Any, revision: int,
                  changed_by: str) -> OrganisationRecorded | None:
    """A caseworker creates or changes one entry: the event, or ``None`` when the entry already
    says exactly this. An invalid entry is refused naming each field (``register_invalid``)."""
    try:
        organisation = Organisation.model_validate(raw)
    except ValidationError as exc:
        details = tuple(p.removeprefix("line 0: ") for p in row_problems(0, exc))
        raise Refusal("register_invalid", "; ".join(details), "invalid", details=details) from exc
    if current is not None and current.organisation == organisation:
        return None
    return _recorded(current, organisation, revision + 1, "caseworker", None, changed_by)


def evolve_entry(current: RegisterEntry | None, event: OrganisationRecorded) -> RegisterEntry:
    """The entry after an event; an older or repeated event leaves a newer entry as it is."""
    if current is not None and current.revision >= event.revision:
        return current
    return RegisterEntry.from_event(event)


def prior_award(programme: str, pool_id: str, cvr: str | None, municipality_code: str | None,
                entry: RegisterEntry | None,
                municipality_entries: list[RegisterEntry]) -> PriorAwardImported:
    """An award from an earlier round, naming its grantee (R2).

    By CVR: the register's entry gives the municipality and kind (a municipality given as well
    must be the entry's); a CVR not in the register needs its municipality. By municipality
    alone: the municipality's own award (``kind`` municipality), which counts for whatever
    entry of kind municipality applies for it; the CVR is recorded when the register holds
    exactly one such entry (``municipality_entries``: its entries of kind municipality).
    """
    if cvr is None and municipality_code is None:
        raise Refusal("organisation_unknown", "a prior award names a cvr or a "
                      "municipality_code", "invalid")
    if cvr is None:
        assert municipality_code is not None
        own = municipality_entries[0].organisation.cvr if len(municipality_entries) == 1 else None
        return PriorAwardImported(programme=programme, municipality_code=municipality_code,
                                  pool_id=pool_id, cvr=own, kind="municipality")
    if entry is None:
        if municipality_code is None:
            raise Refusal("organisation_unknown", "the CVR is not in the register; name "
                          "its municipality_code too", "invalid")
        return PriorAwardImported(programme=programme, municipality_code=municipality_code,
                                  pool_id=pool_id, cvr=cvr)
    registered = entry.organisation
    if municipality_code is not None and municipality_code != registered.municipality_code:
        raise Refusal("applicant_register_mismatch",
                      f"the register has this CVR in municipality "
                      f"{registered.municipality_code}, not {municipality_code}", "invalid")
    return PriorAwardImported(programme=programme, municipality_code=registered.municipality_code,
                              pool_id=pool_id, cvr=cvr, kind=registered.kind)

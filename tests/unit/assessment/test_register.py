"""The organisation register (issue 15): files read in two formats with every bad row named,
loads versioned by content, one event per change, caseworker changes, prior awards by CVR."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contracts.register import Organisation, OrganisationRecorded, RegisterSourceLoaded
from contracts.refusal import Refusal
from services.assessment.domain import prior_award
from services.assessment.domain.register import (
    RegisterEntry, SourceVersion, changed_cvr, decide_change, decide_load, evolve_entry,
    require_known,
)
from services.assessment.domain.register_files import (
    check_http_file, cvr_document_row, format_of, parse_cvr_jsonl, parse_register_csv,
    register_text,
)

ROOT = Path(__file__).resolve().parents[3]
HEADER = "cvr,name,kind,municipality_code,region_code\n"
AARHUS = "29189846"
KBH = "27998194"


def csv_of(*rows: str) -> str:
    return HEADER + "".join(r + "\n" for r in rows)


def entry(org: Organisation, revision: int = 1, version: int = 1) -> RegisterEntry:
    return RegisterEntry(organisation=org, entry_version=version, revision=revision, source="t")


def refused(text: str) -> tuple[str, ...]:
    with pytest.raises(Refusal) as exc:
        parse_register_csv(text)
    assert exc.value.code == "register_invalid" and exc.value.kind == "invalid"
    return exc.value.details


def test_the_shipped_register_files_load() -> None:
    for path in sorted((ROOT / "deploy" / "register").glob("*.csv")):
        parsed = parse_register_csv(path.read_text(encoding="utf-8"))
        assert parsed.organisations, path
    municipalities = parse_register_csv(
        (ROOT / "deploy" / "register" / "municipalities.csv").read_text(encoding="utf-8"))
    assert len(municipalities.organisations) == 98
    assert {o.kind for o in municipalities.organisations} == {"municipality"}
    assert len({o.municipality_code for o in municipalities.organisations}) == 98


def test_a_row_fills_its_region_from_the_municipality_or_must_agree_with_it() -> None:
    parsed = parse_register_csv(csv_of(f"{AARHUS},Aarhus Kommune,municipality,751,",
                                       f"{KBH},Københavns Kommune,municipality,101,1084"))
    assert [o.region_code for o in parsed.organisations] == ["1082", "1084"]
    assert refused(csv_of(f"{AARHUS},Aarhus Kommune,municipality,751,1084")) == (
        "line 2: region_code: municipality 751 lies in region 1082, not 1084",)


def test_every_bad_row_is_named_by_line_and_field_and_nothing_loads() -> None:
    details = refused(csv_of(
        f"{AARHUS},Aarhus Kommune,municipality,751,",
        "12345678,Bad CVR,municipality,101,",
        f"{KBH},Unknown place,municipality,999,",
        f"{KBH},Unknown kind,club,101,",
        f"{AARHUS},Twice,municipality,751,"))
    assert [d.split(": ")[0:2] for d in details] == [
        ["line 3", "cvr"], ["line 4", "municipality_code"], ["line 5", "kind"], ["line 6", "cvr"]]
    assert "also on line 2" in details[-1]


def test_a_wrong_header_is_refused() -> None:
    with pytest.raises(Refusal) as exc:
        parse_register_csv("cvr,name,kind\n")
    assert exc.value.details == ("line 1: municipality_code: missing column",)
    with pytest.raises(Refusal):
        parse_register_csv(HEADER.strip() + ",email\n")


def test_the_cvr_registers_export_format() -> None:
    def doc(cvr: int, form: int, kommune: int | None, status: str = "NORMAL") -> str:
        meta = {"nyesteNavn": {"navn": f"Enhed {cvr}"}, "sammensatStatus": status,
                "nyesteVirksomhedsform": {"virksomhedsformkode": form, "kortBeskrivelse": "X"},
                "nyesteBeliggenhedsadresse": {"kommune": None if kommune is None else {
                    "kommuneKode": kommune, "kommuneNavn": "X"}}}
        return json.dumps({"_source": {"Vrvirksomhed": {"cvrNummer": cvr,
                                                        "virksomhedMetadata": meta}}})

    text = "\n".join([doc(29189846, 250, 751), doc(27998194, 115, 101),
                      doc(32432832, 80, 157, "Ophørt"), doc(10000009, 60, None), ""])
    parsed = parse_cvr_jsonl(text)
    assert [(o.cvr, o.kind, o.municipality_code, o.region_code) for o in parsed.organisations] == [
        ("29189846", "municipality", "751", "1082"),
        ("27998194", "voluntary_organisation", "101", "1084")]
    assert parsed.skipped == 2  # ceased, and no Danish municipality
    assert cvr_document_row({"Vrvirksomhed": {"cvrNummer": 1, "virksomhedMetadata": {
        "nyesteBeliggenhedsadresse": {"kommune": {"kommuneKode": 7}}}}})["cvr"] == "00000001"
    with pytest.raises(Refusal) as exc:
        parse_cvr_jsonl(doc(12345678, 80, 101) + "\nnot json\n")
    assert [d.split(": ")[:2] for d in exc.value.details] == [["line 1", "cvr"],
                                                              ["line 2", "(row)"]]
    assert format_of("cvr-export.jsonl") == "cvr-permanent-jsonl"
    assert format_of("municipalities.csv") == "grants-register-csv"


def test_a_load_is_versioned_by_content_and_records_only_what_changed() -> None:
    first = parse_register_csv(csv_of(f"{AARHUS},Aarhus Kommune,municipality,751,",
                                      f"{KBH},Københavns Kommune,municipality,101,"))
    events = decide_load("municipalities", first, None, {}, 10, "svc")
    recorded = [e for e in events if isinstance(e, OrganisationRecorded)]
    assert [(e.revision, e.change, e.entry_version, e.source_version) for e in recorded] == [
        (11, "created", 1, 1), (12, "created", 1, 1)]
    loaded = events[-1]
    assert isinstance(loaded, RegisterSourceLoaded)
    assert (loaded.source_version, loaded.changed, loaded.unchanged, loaded.revision) == (
        1, 2, 0, 12)
    in_force = SourceVersion("municipalities", 1, first.content_hash)
    current = {e.organisation.cvr: RegisterEntry.from_event(e) for e in recorded}
    assert decide_load("municipalities", first, in_force, current, 12, "svc") == []
    # The same rows in another order are the same content.
    again = parse_register_csv(csv_of(f"{KBH},Københavns Kommune,municipality,101,",
                                      f"{AARHUS},Aarhus Kommune,municipality,751,"))
    assert again.content_hash == first.content_hash
    moved = parse_register_csv(csv_of(f"{AARHUS},Aarhus Kommune,municipality,751,",
                                      f"{KBH},Københavns Kommune,municipality,147,"))
    events = decide_load("municipalities", moved, in_force, current, 12, "svc")
    assert len(events) == 2
    change = events[0]
    assert isinstance(change, OrganisationRecorded)
    assert (change.revision, change.change, change.entry_version, change.source_version) == (
        13, "updated", 2, 2)
    assert change.previous is not None and change.previous.municipality_code == "101"


def test_a_caseworker_change_is_one_event_and_a_repeat_is_none() -> None:
    raw = {"cvr": AARHUS, "name": "Aarhus Kommune", "kind": "municipality",
           "municipality_code": "751"}
    created = decide_change(None, raw, 4, "cw-1")
    assert created is not None and (created.revision, created.change, created.source) == (
        5, "created", "caseworker")
    current = RegisterEntry.from_event(created)
    assert decide_change(current, raw, 5, "cw-1") is None
    updated = decide_change(current, {**raw, "kind": "region"}, 5, "cw-2")
    assert updated is not None and updated.entry_version == 2 and updated.changed_by == "cw-2"
    with pytest.raises(Refusal) as exc:
        decide_change(None, {**raw, "municipality_code": "999", "cvr": "1"}, 5, "cw")
    assert [d.split(": ")[0] for d in exc.value.details] == ["cvr", "municipality_code"]


@pytest.mark.parametrize(("raw", "cvr"), [
    ({"cvr": AARHUS, "name": "x"}, AARHUS), ({"cvr": "1"}, "1"), ({"cvr": 29189846}, None),
    ({"cvr": None}, None), ({"name": "x"}, None), ([AARHUS], None), ("cvr", None)])
def test_a_change_names_the_entry_of_its_cvr_string(raw: object, cvr: str | None) -> None:
    assert changed_cvr(raw) == cvr


def test_only_what_the_register_holds_of_a_cvr_is_known() -> None:
    org = entry(Organisation(cvr=AARHUS, name="A", kind="municipality", municipality_code="751"))
    assert require_known(org) is org
    changes = [object()]
    assert require_known(changes) is changes
    for nothing in (None, []):
        with pytest.raises(Refusal) as exc:
            require_known(nothing)
        assert (exc.value.code, exc.value.kind) == ("organisation_unknown", "not_found")


def test_an_older_event_does_not_undo_a_newer_entry() -> None:
    org = Organisation(cvr=AARHUS, name="A", kind="municipality", municipality_code="751")
    newer = entry(org, revision=9)
    old = OrganisationRecorded(revision=3, entry_version=1, change="created", organisation=org,
                               source="t", changed_by="x")
    assert evolve_entry(newer, old) is newer


def test_a_file_over_http_is_bounded() -> None:
    check_http_file(64 * 1024 * 1024)
    with pytest.raises(Refusal) as exc:
        check_http_file(64 * 1024 * 1024 + 1)
    assert (exc.value.code, exc.value.kind) == ("register_too_large", "too_large")


def test_a_file_over_http_is_utf8_text() -> None:
    assert register_text("cvr,navn\n29189846,Århus\n".encode()) == "cvr,navn\n29189846,Århus\n"
    for body in ("Århus".encode("latin-1"), b"\xff\xfe", b"\xc3"):
        with pytest.raises(Refusal) as exc:
            register_text(body)
        assert (exc.value.code, exc.value.kind) == ("register_invalid", "invalid")


def test_a_prior_award_names_the_cvr() -> None:
    org = Organisation(cvr=KBH, name="Foreningen", kind="voluntary_organisation",
                       municipality_code="101")
    award = prior_award("p", "old", KBH, None, entry(org), [])
    assert (award.cvr, award.kind, award.municipality_code) == (KBH, "voluntary_organisation",
                                                                "101")
    with pytest.raises(Refusal) as exc:
        prior_award("p", "old", KBH, "147", entry(org), [])
    assert exc.value.code == "applicant_register_mismatch"
    with pytest.raises(Refusal) as exc:
        prior_award("p", "old", KBH, None, None, [])
    assert exc.value.code == "organisation_unknown"
    unregistered = prior_award("p", "old", KBH, "147", None, [])
    assert (unregistered.cvr, unregistered.kind, unregistered.municipality_code) == (
        KBH, None, "147")


def test_a_prior_award_by_municipality_is_that_municipalitys_own() -> None:
    own = Organisation(cvr=AARHUS, name="Aarhus Kommune", kind="municipality",
                       municipality_code="751")
    award = prior_award("p", "old", None, "751", None, [entry(own)])
    assert (award.cvr, award.kind) == (AARHUS, "municipality")
    twice = prior_award("p", "old", None, "751", None, [entry(own), entry(own)])
    assert (twice.cvr, twice.kind) == (None, "municipality")
    with pytest.raises(Refusal):
        prior_award("p", "old", None, None, None, [])

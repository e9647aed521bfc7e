"""The pool definition format: the source files load; bad pools are refused naming the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.pools import PoolDefinition

POOLS = Path(__file__).resolve().parents[2] / "deploy" / "pools"


def _familiehus() -> dict[str, Any]:
    return json.loads((POOLS / "familiehus-2022.json").read_text())


@pytest.mark.parametrize("path", sorted(POOLS.glob("*.json")), ids=lambda p: p.name)
def test_source_pools_load(path: Path) -> None:
    PoolDefinition.model_validate(json.loads(path.read_text()))


def test_familiehus_amounts_and_deadline() -> None:
    pool = PoolDefinition.model_validate(_familiehus())
    assert pool.total_oere == 12_600_300_000
    assert sum(s.amount_oere for s in pool.sub_pools) == pool.total_oere
    assert pool.deadline_instant().isoformat() == "2022-09-28T12:00:00+02:00"


def _refused(**changes: Any) -> str:
    with pytest.raises(ValidationError) as exc:
        PoolDefinition.model_validate({**_familiehus(), **changes})
    return str(exc.value)


def test_sub_pools_must_sum_to_total() -> None:
    assert "sub_pools" in _refused(total_dkk=126003001)


def test_one_oere_precision_only() -> None:
    assert "total_dkk" in _refused(total_dkk="126003000.001")


def test_unknown_region_and_applicant_kind_are_refused() -> None:
    subs = _familiehus()["sub_pools"]
    assert "region_code" in _refused(sub_pools=[{**subs[0], "region_code": "9999"}, *subs[1:]])
    assert "applicant_group" in _refused(applicant_group=["municipalities"])


def test_deadline_in_dst_change_is_refused() -> None:
    assert "daylight-saving" in _refused(deadline_local="2022-10-30T02:30:00")
    assert "daylight-saving" in _refused(deadline_local="2022-03-27T02:30:00")
    # the week of a DST change itself is fine
    pool = PoolDefinition.model_validate({**_familiehus(), "deadline_local": "2022-10-31T12:00:00"})
    assert pool.deadline_instant().utcoffset().total_seconds() == 3600


def test_unknown_keys_and_offsets_are_refused() -> None:
    assert "surprise" in _refused(surprise=1)
    assert "deadline_local" in _refused(deadline_local="2022-09-28T12:00:00+02:00")



def test_a_pool_that_checks_purpose_must_set_it() -> None:
    without = {k: v for k, v in _familiehus().items() if k != "purpose"}
    with pytest.raises(ValidationError) as exc:
        PoolDefinition.model_validate({**without, "checks_purpose": True})
    assert "purpose" in str(exc.value)
    assert not PoolDefinition.model_validate({**without, "checks_purpose": False}).purpose_checked
    assert not PoolDefinition.model_validate(without).purpose_checked  # v1 files: no purpose
    assert PoolDefinition.model_validate(_familiehus()).purpose_checked
    stated = PoolDefinition.model_validate({**_familiehus(), "checks_purpose": False})
    assert stated.purpose and not stated.purpose_checked


@pytest.mark.parametrize("path", sorted(POOLS.glob("*.json")), ids=lambda p: p.name)
def test_the_projects_pools_say_explicitly_whether_they_check_purpose(path: Path) -> None:
    """Issue 15: each pool file of the project sets its purpose or says it has none."""
    raw = json.loads(path.read_text())
    assert raw.get("purpose") or raw.get("checks_purpose") is False, path.name


def test_familiehus_2022_follows_the_sources() -> None:
    """The seed webinar: all criteria, with purpose and target group, are minimum requirements."""
    pool = PoolDefinition.model_validate(_familiehus())
    assert all(c.minimum_requirement for c in pool.criteria) and pool.purpose_checked
    shared = Path(__file__).resolve().parents[3] / "shared" / "data" / "pools" / "familiehus-2022.json"
    if shared.exists():  # the project's copy is the source's, key for key
        assert json.loads(shared.read_text()) == _familiehus()

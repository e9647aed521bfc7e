"""The 98 Danish municipalities with their regions (reference data, shipped with the contracts)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_CSV = Path(__file__).parent / "data" / "municipalities.csv"


@dataclass(frozen=True)
class Municipality:
    code: str
    name: str
    region_code: str
    region: str


@cache
def municipalities() -> dict[str, Municipality]:
    """Municipality code (3 digits, e.g. ``"101"``) → municipality."""
    with _CSV.open(encoding="utf-8") as fh:
        return {
            row["municipality_code"]: Municipality(
                row["municipality_code"], row["name"], row["region_code"], row["region"]
            )
            for row in csv.DictReader(fh)
        }


def region_of(municipality_code: str) -> str | None:
    m = municipalities().get(municipality_code)
    return m.region_code if m else None

"""requirements.lock pins every dependency of pyproject.toml, with hashes, within its range.

The lock is what scripts/bootstrap.sh installs (``pip install --require-hashes``); a dependency
added to pyproject.toml without ``bash scripts/lock.sh`` would make every fresh install fail.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def pins() -> dict[str, str]:
    found = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        match = PIN.match(line)
        if match:
            found[canonicalize_name(match.group(1))] = match.group(2)
    return found


def test_every_pyproject_dependency_is_pinned_within_its_range() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["dev"]
    locked = pins()
    for text in wanted:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name in locked, f"{req.name} is not in requirements.lock: run bash scripts/lock.sh"
        assert req.specifier.contains(locked[name], prereleases=True), (
            f"{req.name}=={locked[name]} is outside {req.specifier}: run bash scripts/lock.sh")


def test_every_pin_carries_hashes() -> None:
    text = (ROOT / "requirements.lock").read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    assert len(blocks) == len(pins()) > 50
    for block in blocks:
        assert "--hash=sha256:" in block, block.splitlines()[0]


def test_bootstrap_installs_from_the_lock_and_the_project_without_dependencies() -> None:
    script = (ROOT / "scripts" / "bootstrap.sh").read_text()
    assert '--require-hashes -r "$LOCK"' in script
    assert "--no-deps -e ." in script
    assert "-e '.[dev]'" not in script

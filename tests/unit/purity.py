"""Checks the services' domain tests share: a domain package does no I/O, reads no clock, makes
no random ids, reaches other services only through contracts, and its modules stay small."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType


def domain_modules(package: ModuleType) -> list[Path]:
    """The package's own modules (not its subpackages), in name order."""
    return sorted(Path(package.__file__ or "").parent.glob("*.py"))


def assert_domain_pure(modules: Iterable[Path], *, forbidden_modules: set[str],
                       forbidden_names: set[str], own_package: str) -> None:
    """No module imports a forbidden module (by its top-level name) or a forbidden name, uses an
    attribute or calls a function of a forbidden name, or imports from a ``services.`` package
    other than ``own_package``."""
    for path in modules:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {(node.module or "").split(".")[0]}
                assert not {a.name for a in node.names} & forbidden_names, path.name
                if node.module and node.module.startswith("services."):
                    assert node.module.startswith(own_package), path.name
            else:
                roots = set()
            assert not roots & forbidden_modules, f"{path.name} imports {roots}"
            if isinstance(node, ast.Attribute):
                assert node.attr not in forbidden_names, f"{path.name} uses .{node.attr}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in forbidden_names, f"{path.name} calls {node.func.id}"


def assert_modules_small(modules: Iterable[Path], max_lines: int = 300) -> None:
    for path in modules:
        assert len(path.read_text(encoding="utf-8").splitlines()) <= max_lines, path.name

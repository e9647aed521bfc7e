"""Examples drawn from a hypothesis strategy up front, for tests that send them to services
running on the test's event loop (hypothesis cannot await)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, Phase, given, settings


def drawn(strategy: Any, n: int) -> list[Any]:
    """``n`` examples of ``strategy`` (generation only: no shrinking, no example database)."""
    examples: list[Any] = []

    @settings(max_examples=n, phases=[Phase.generate], deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def draw(example: Any) -> None:
        examples.append(example)

    draw()
    return examples

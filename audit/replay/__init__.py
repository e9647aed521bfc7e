"""The auditors' replay (R23): rebuild every service's state from the event log and verify it.

A pure package beside :mod:`audit.verify`, importing only :mod:`contracts`: the CLI
(``grants audit``, the scenario runner), the benchmarks and reporting (its pool overview and
timelines) all fold the same log with it, and it runs where no service code is.

- :mod:`.fold` — :class:`Replay` (``apply`` one event, ``result``) and :func:`replay`;
- :mod:`.models` — :class:`LoggedEvent` in, :class:`ReplayResult` out, :func:`state_digest`;
- :mod:`.state` — the compact facts the fold keeps; :mod:`.projection` — the per-application
  and per-pool views derived from them; :mod:`.checks` — the invariants over them;
- :mod:`.invariants` — the codes of what is verified (:data:`INVARIANTS`).
"""

from audit.replay.fold import Replay, replay
from audit.replay.invariants import INVARIANT_RULE, INVARIANTS
from audit.replay.models import (
    ApplicationView, LoggedEvent, PoolView, ReplayResult, ReplayTotals, SubPoolView, Violation,
    canonical_json, state_digest,
)

__all__ = [
    "INVARIANTS", "INVARIANT_RULE", "ApplicationView", "LoggedEvent", "PoolView", "Replay",
    "ReplayResult", "ReplayTotals", "SubPoolView", "Violation", "canonical_json", "replay",
    "state_digest",
]

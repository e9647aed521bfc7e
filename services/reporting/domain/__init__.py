"""The reporting service's pure domain (R18, R20–R24): no I/O, no clock, no id generation.

- :mod:`.grant_file` — :class:`GrantFile`, one per grant, rebuilt by :func:`evolve` from events;
- :mod:`.reports` — :func:`decide_report` for :class:`SubmitReport` (status / final + accounts);
- :mod:`.repayment` — :func:`settle_repayment` (R22), also after a late finance result;
- :mod:`.overdue` — :func:`overdue` notices (R18) and :func:`overdue_from`, when the next one is due;
- :mod:`.rules` — audit level by size (R21), thresholds, deadlines and the project period;
- the auditors' replay (R23) is a package of its own, :mod:`audit.replay`, which the pool
  overview uses;
- :mod:`.pool_overview` — :func:`pool_overview` figures per pool/sub-pool and timelines;
- :mod:`.exports` — 360Giving JSON and CSV (R24);
- every code (:data:`REASON_CODES`, :data:`REFUSAL_CODES`) is wire vocabulary, in
  :mod:`contracts.reason_codes.reporting`; a refused command raises
  :class:`contracts.refusal.Refusal`.
"""
from services.reporting.domain.exports import (
    export_360giving, export_360giving_csv, grant_record, to_csv, to_json,
)
from services.reporting.domain.grant_file import (
    ApprovedBudget, AwardTerms, GrantFile, ReportRecord, apply_payload, application_of, evolve,
)
from services.reporting.domain.grant_money import Instruction
from services.reporting.domain.overdue import overdue, overdue_from
from services.reporting.domain.pool_overview import (
    PoolFigures, PoolOverview, PoolSummary, TimelineEntry, pool_overview,
)
from contracts.reason_codes.reporting import REASON_CODES, REFUSAL_CODES
from services.reporting.domain.repayment import settle_repayment
from services.reporting.domain.reports import (
    SubmitReport, awarded, decide_report, require_grantee, require_reader, resent_final_report,
)
from services.reporting.domain.rules import (
    PERFORMANCE_AUDIT_ABOVE_OERE, REPAYMENT_THRESHOLD_OERE, REVIEWER_MAX_OERE, audit_level,
    repayment_for,
)

__all__ = [
    "PERFORMANCE_AUDIT_ABOVE_OERE", "REASON_CODES", "REFUSAL_CODES",
    "REPAYMENT_THRESHOLD_OERE", "REVIEWER_MAX_OERE", "ApprovedBudget",
    "AwardTerms", "GrantFile", "Instruction", "PoolFigures",
    "PoolOverview", "PoolSummary",
    "ReportRecord", "SubmitReport", "TimelineEntry", "application_of",
    "apply_payload", "audit_level", "awarded", "decide_report", "require_grantee", "require_reader",
    "resent_final_report", "evolve", "export_360giving",
    "export_360giving_csv", "grant_record", "overdue", "overdue_from", "pool_overview",
    "repayment_for", "settle_repayment", "to_csv", "to_json",
]

"""The pure rules of the assessment service: pools (R1), once per applicant (R2), the eligibility
gate (R10), scoring (R11), ranking and allocation (R12) and decisions (R13).

No I/O, no clock, no id generation: every function takes what it needs and returns contract
payloads (``contracts.assessment``) or raises :class:`Refusal`. State is two frozen models,
rebuilt from events by ``evolve_round`` / ``evolve_ledger``.

How a handler drives it (each step in one transaction; apply every returned event with evolve):

- publish a pool:        ``publish_pool(round | None, raw)`` → ``PoolPublished | None``;
                         then ``reassess_pool(round, ledger)`` for applications already in it
- ApplicationReceived:   ``evolve_round`` only (stores the version)
- ApplicationAccepted:   ``evolve_round``, then ``assess_eligibility(round, ledger, id)``
- import a prior award:  ``prior_award(...)`` (by CVR, with the register's entry), then
                         ``evolve_ledger`` and ``reassess_pool`` for the programme's rounds
- register change:       ``register.decide_load`` / ``register.decide_change`` (see there)
- score / recuse:        ``score_application(round, ScoreApplication(...))``
- recommendations:       ``plan_allocation(round, ledger)`` (a query)
- approve:               ``approve(round, ledger, approver, decided_at)``; apply each decision to
                         the round and each ``GrantAwarded`` to the ledger. For a pool read a
                         chunk at a time: ``allocation.candidates_of(part, ledger)`` per chunk,
                         ``decisions.check_approval(pool, candidates, ...)``, then
                         ``decisions.decide(approval, rec, accepted_version)`` per recommendation
- overview:              ``pool_overview(round)``
"""

from services.assessment.domain.allocation import (
    AllocationPlan, Recommendation, plan_allocation,
)
from services.assessment.domain.decisions import (
    acceptance_deadline, add_months, approve, reporting_deadlines,
)
from services.assessment.domain.eligibility import assess_eligibility, gate_reasons, reassess_pool
from services.assessment.domain.overview import PoolOverview, SubPoolOverview, pool_overview
from services.assessment.domain.pools import (
    next_pool_version, parse_pool_definition, publish_pool,
)
from contracts.pools import content_hash, tie_draw
from contracts.reason_codes.assessment import REASON_CODES, REFUSAL_CODES
from services.assessment.domain.register import prior_award
from services.assessment.domain.scoring import ScoreApplication, exact_score, score_application
from services.assessment.domain.state import (
    ApplicationFile, ApplicationVersion, Decision, FundedEntry, FundingLedger, PoolRound,
    evolve_files, evolve_ledger, evolve_ledger_all, evolve_round, new_round,
)

__all__ = [
    "REASON_CODES", "REFUSAL_CODES", "AllocationPlan", "ApplicationFile", "ApplicationVersion",
    "Decision", "FundedEntry", "FundingLedger", "PoolOverview", "PoolRound",
    "Recommendation", "ScoreApplication", "SubPoolOverview", "acceptance_deadline", "add_months",
    "approve", "assess_eligibility", "content_hash", "evolve_files", "evolve_ledger", "evolve_ledger_all",
    "evolve_round",
    "exact_score", "gate_reasons", "new_round", "next_pool_version", "parse_pool_definition",
    "plan_allocation", "pool_overview", "prior_award", "publish_pool", "reassess_pool", "reporting_deadlines",
    "score_application", "tie_draw",
]

"""The progress bar's words for each stage of a round: "scoring 3/4 assessors", "payments Q2
2024", never a raw action type."""

from __future__ import annotations

from typing import Any

from grants.scenario import model as m

_WORDS = {
    "submit": "submitting applications",
    "it_problem_contact": "IT-problem contacts",
    "exception_decision": "IT-problem decisions",
    "allocate": "allocating the pool",
    "accept_award": "accepting awards",
    "revised_budget": "revised budgets",
    "approve_budget": "approving budgets",
    "finance_result": "finance results",
    "reissue_payment": "re-issuing payments",
    "withdraw_award": "withdrawing awards",
    "status_report": "status reports",
    "final_report": "final reports and accounts",
    "audit_replay": "auditors' replay",
}


class StageNames:
    """Names each action's stage; assessors are counted in the order they first score."""

    def __init__(self, scenario: m.Scenario) -> None:
        self._assessors: dict[str, int] = {}
        for action in scenario.actions:
            if isinstance(action, m.Score):
                self._assessors.setdefault(action.assessor, len(self._assessors) + 1)

    def __call__(self, action: Any) -> str:
        if isinstance(action, m.Score):
            return f"scoring {self._assessors[action.assessor]}/{len(self._assessors)} assessors"
        if isinstance(action, m.RunPayments):
            through = action.through
            return f"payments Q{(through.month - 1) // 3 + 1} {through.year}"
        return _WORDS.get(action.type, action.type.replace("_", " "))

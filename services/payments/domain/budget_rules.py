"""The rules a revised budget is judged by (R15) and the change thresholds (R16).

Pure functions over months and numbers; the commands in :mod:`.budget` turn their verdicts into
events. The raw input is checked before it becomes a contract ``MonthlyBudget``, because that
type cannot even hold a negative amount, and the grantee must hear where each problem is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from contracts.base import ProjectPeriod, Reason, post_key
from services.payments.domain.months import is_month_key, month_of

MOVE_SHARE_LIMIT_PERCENT: Final = 10
MOVE_AMOUNT_LIMIT_OERE: Final = 10_000_000
"""R16: moves over 10 % of the award or over 100,000 DKK need prior approval; equal applies."""

POST_NAME_MAX: Final = 200  # same bound as contracts.base.BudgetLine.post

Months = dict[str, dict[str, int]]


@dataclass(frozen=True)
class BudgetCheck:
    """The verdict on a raw budget. ``months`` is the input as a contract ``MonthlyBudget``
    (sorted), or None when it cannot be one; ``reasons`` are every R15 rejection reason."""

    months: Months | None
    total_oere: int
    reasons: tuple[Reason, ...]


def _path(*parts: str) -> str:
    return ".".join(("months", *parts))


def _check_post(month: str, post: object, amount: object) -> list[Reason]:
    """Why one entry cannot be a contract amount; empty when it is a valid post and øre."""
    reasons = []
    name = post if isinstance(post, str) else repr(post)
    if not isinstance(post, str) or not post.strip() or len(post) > POST_NAME_MAX:
        reasons.append(Reason(code="post_invalid", path=_path(month, name),
                              message=f"a post name is 1–{POST_NAME_MAX} characters"))
    # bool is an int subclass; True is not an amount of money.
    if not isinstance(amount, int) or isinstance(amount, bool):
        reasons.append(Reason(code="amount_invalid", path=_path(month, name),
                              message=f"{amount!r} is not a whole number of øre"))
    elif amount < 0:
        reasons.append(Reason(code="amount_negative", path=_path(month, name),
                              message=f"{amount} øre is negative"))
    return reasons


def check_budget(raw: object, period: ProjectPeriod, award_oere: int) -> BudgetCheck:
    """Every R15 reason at once, each with its path (``months.2023-02.project staff``)."""
    if not isinstance(raw, Mapping):
        reason = Reason(code="month_invalid", path="months",
                        message="months must map YYYY-MM to {post: øre}")
        return BudgetCheck(months=None, total_oere=0, reasons=(reason,))
    first, last = month_of(period.start), month_of(period.end)
    reasons: list[Reason] = []
    months: Months = {}
    representable = True
    for month in sorted(raw, key=str):
        posts = raw[month]
        if not is_month_key(month) or not isinstance(posts, Mapping):
            representable = False
            reasons.append(Reason(code="month_invalid", path=_path(str(month)),
                                  message="a month is YYYY-MM and maps posts to øre"))
            continue
        if not first <= month <= last:
            # A month is inside iff it overlaps the period; the period's first and last
            # month are inside however few of their days the period covers.
            reasons.append(Reason(code="month_outside_period", path=_path(month),
                                  message=f"the project period covers {first}..{last}"))
        # Good entries are kept even when their neighbours are bad, so the whole-budget checks
        # (empty, over the award) still speak about the money that was given.
        months[month] = {}
        for post in sorted(posts, key=str):
            entry_reasons = _check_post(month, post, posts[post])
            if entry_reasons:
                reasons += entry_reasons
                representable = False
            else:
                months[month][post] = posts[post]
    total = sum(a for posts in months.values() for a in posts.values())
    reasons += _whole_budget_reasons(months, total, period, award_oere, first)
    return BudgetCheck(months=months if representable else None, total_oere=total,
                       reasons=tuple(reasons))


def _whole_budget_reasons(months: Months, total: int, period: ProjectPeriod, award_oere: int,
                          first: str) -> list[Reason]:
    reasons = []
    with_money = [m for m in sorted(months) if sum(months[m].values()) > 0]
    if not with_money:
        reasons.append(Reason(code="budget_empty", path="months",
                              message="the budget puts no money in any month"))
    elif not period.delayed_start_allowed and with_money[0] > first:
        reasons.append(Reason(code="delayed_start_not_allowed", path=_path(with_money[0]),
                              message=f"the award does not allow a start after {first}"))
    if total > award_oere:
        reasons.append(Reason(code="exceeds_award", path="total_oere",
                              message=f"total {total} øre is more than the award "
                                      f"{award_oere} øre"))
    return reasons


def post_totals(months: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for posts in months.values():
        for post, amount in posts.items():
            totals[post] = totals.get(post, 0) + amount
    return totals


def moved_oere(before: Mapping[str, int], after: Mapping[str, int]) -> int:
    """R16's measure of a change: the sum of per-post increases (what was moved into posts)."""
    return sum(max(0, amount - before.get(post, 0)) for post, amount in after.items())


def new_post_reasons(known_posts: frozenset[str], totals: Mapping[str, int]) -> list[Reason]:
    """A post with money that the reference budget does not hold is a new cost item (R16).
    Posts compare as intake compares them (:func:`contracts.base.post_key`)."""
    known = {post_key(p) for p in known_posts}
    return [Reason(code="new_post", path=f"posts.{post}",
                   message="a new post needs a caseworker's approval")
            for post in sorted(totals) if totals[post] > 0 and post_key(post) not in known]


def _by_key(totals: Mapping[str, int]) -> dict[str, int]:
    keyed: dict[str, int] = {}
    for post, amount in totals.items():
        keyed[post_key(post)] = keyed.get(post_key(post), 0) + amount
    return keyed


def change_reasons(baseline: Months, proposed: Months, award_oere: int) -> list[Reason]:
    """Why a change must wait for a caseworker (R16); empty: it applies. Measured against the
    *baseline* (the last budget a caseworker approved, else the first approved one), so small
    moves chained through automatic approvals add up to the thresholds."""
    before, after = post_totals(baseline), post_totals(proposed)
    moved = moved_oere(_by_key(before), _by_key(after))
    reasons = []
    # Integer comparison: moved > 10 % of award  <=>  moved * 100 > award * 10 (no rounding).
    if moved * 100 > award_oere * MOVE_SHARE_LIMIT_PERCENT:
        reasons.append(Reason(code="move_over_10_percent", path="posts",
                              message=f"moves {moved} øre, more than 10 % of {award_oere} øre"))
    if moved > MOVE_AMOUNT_LIMIT_OERE:
        reasons.append(Reason(code="move_over_100000_dkk", path="posts",
                              message=f"moves {moved} øre, more than 100,000 DKK"))
    known = frozenset(post for posts in baseline.values() for post, a in posts.items() if a > 0)
    return reasons + new_post_reasons(known, after)

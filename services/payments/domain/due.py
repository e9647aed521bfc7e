"""When payments' time-driven rules are next due: the first instant at which each rule's own
predicate holds, so the scheduler can tell a driver which ticks would find nothing to do
(:mod:`servicekit.scheduler`, "next due"). Each function agrees with its predicate at every
instant (tests/unit/payments/test_due.py): never later, or a tick would be skipped that acts.

- the scheduled payment run: :func:`~.ledger.a_period_fell_due` on ``run_date(now)``, the
  Copenhagen date — from the first instant of the due date's Copenhagen day;
- the acceptance lapse: :func:`~.account.lapse_overdue` — from just after the deadline (at the
  deadline instant acceptance is still allowed);
- the start check: :func:`~.start_check.start_check_due` — from the first instant of the
  Copenhagen day after the start window's last day, for a running grant that shows no start.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from services.payments.domain.account import PROJECT_ZONE, project_started, start_window_end
from services.payments.domain.state import GrantAccount, require_aware

# datetime's resolution: the first instant after another.
RESOLUTION = timedelta(microseconds=1)


def day_starts(day: date) -> datetime:
    """The first instant of ``day`` in the project's zone (Copenhagen): its midnight, which
    every Danish day has (the clocks change at 02:00 and 03:00)."""
    return datetime.combine(day, time(0), tzinfo=PROJECT_ZONE)


def payment_run_from(payment_due: date) -> datetime:
    """The first instant the scheduled run pays a grant whose next due date is ``payment_due``
    (``next_payment_due``): the run's date is the Copenhagen date of ``now``."""
    return day_starts(payment_due)


def lapse_from(acceptance_deadline: datetime) -> datetime:
    """The first instant an award unaccepted at ``acceptance_deadline`` lapses."""
    return require_aware(acceptance_deadline) + RESOLUTION


def start_check_from(state: GrantAccount) -> datetime | None:
    """The first instant the start-check task of ``state`` is due (None: not as the grant
    stands — not accepted, lapsed, or its project shows its start)."""
    if not state.is_accepted or state.is_lapsed or project_started(state):
        return None
    return day_starts(start_window_end(state) + timedelta(days=1))

"""The invariants of R23, checked over the facts the replay collected.

Each check walks its facts in log-key order and reports candidate violations; per invariant the
one with the smallest log key is kept, so the answer does not depend on how topics were merged.
See :data:`audit.replay.invariants.INVARIANTS` for what each one states.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

from audit.replay import invariants as inv
from audit.replay.compact import at_us, instant, micros
from audit.replay.models import Violation
from audit.replay.state import (
    Acceptance, AppFacts, Award, LogFacts, Received, Ref,
)
from contracts.money import format_dkk

Candidate = tuple[str, Ref, str]  # (invariant, offending event, message)


def check_invariants(facts: LogFacts) -> list[Violation]:
    """The first violation of each invariant, ordered by the offending event's log key."""
    first: dict[str, tuple[Ref, str]] = {}
    for check in (_sub_pools, _awards_within_applied, _budgets_within_award, _payments,
                  _one_award_per_applicant, _late_acceptances, _accepted_reach_assessment):
        for invariant, ref, message in check(facts):
            if invariant not in first or ref < first[invariant][0]:
                first[invariant] = (ref, message)
    ordered = sorted(first.items(), key=lambda item: item[1][0])
    return [_violation(facts, invariant, ref, message) for invariant, (ref, message) in ordered]


def _violation(facts: LogFacts, invariant: str, ref: Ref, message: str) -> Violation:
    occurred_at, topic, partition, offset, event_id, event_type = facts.positions.unpack(ref)
    return Violation(
        invariant=invariant, rule=inv.INVARIANT_RULE[invariant],
        event_id=str(UUID(int=event_id)),
        event_type=event_type, topic=topic, partition=partition, offset=offset,
        occurred_at=occurred_at, message=message,
    )


def sub_pool_limit(facts: LogFacts, award: Award) -> int:
    """The amount an award's sub-pool may commit: the published pool version the award names,
    or (when that version is not in the log) the amount the award itself states."""
    published = facts.pool_versions.get((award.pool_id, award.pool_version))
    if published is not None:
        definition = published[1].definition
        if award.region_code is None:
            return int(definition.total_oere)
        for sub in definition.sub_pools:
            if sub.region_code == award.region_code:
                return int(sub.amount_oere)
    return int(award.sub_pool_amount_oere)


def _sub_pools(facts: LogFacts) -> Iterator[Candidate]:
    """(a) In log-key order, what a sub-pool's awards commit never exceeds its amount: every
    GrantAwarded commits its amount; an application's first AwardLapsed (a lapse or a
    withdrawal) releases what its awards committed until then, so that money may be awarded
    again. A GrantAwarded after its application's release commits again (it is no less money)."""
    committed: dict[tuple[str, str | None], int] = {}
    holding: dict[int, list[Award]] = {}  # application id → its awards committing money now
    app_of = {a.ref: app_id for app_id, app in facts.apps.items() for a in app.awards}
    # (instant, 0 = release | 1 = award, log key): at one instant a release comes first — in
    # simulation the tick that lapses an award and the allocation run it enables share the
    # scenario's instant, and an award cannot be caused by a release after it.
    steps: list[tuple[tuple[int, int, Ref], Award | None, int]] = [
        ((at_us(a.ref), 1, a.ref), a, app_of.get(a.ref, 0)) for a in facts.awards]
    steps += [((at_us(ref), 0, ref), None, app_id) for ref, app_id in facts.releases]
    for _key, award, app_id in sorted(steps, key=lambda step: step[0]):
        if award is None:
            for gone in holding.pop(app_id, []):
                key = (gone.pool_id, gone.region_code)
                committed[key] -= gone.amount_oere
            continue
        key = (award.pool_id, award.region_code)
        committed[key] = committed.get(key, 0) + award.amount_oere
        holding.setdefault(app_id, []).append(award)
        limit = sub_pool_limit(facts, award)
        if committed[key] > limit:
            where = f"sub-pool {award.region_code}" if award.region_code else "the pool"
            yield (inv.SUB_POOL_WITHIN_AMOUNT, award.ref,
                   f"awards in {where} of {award.pool_id} reach {format_dkk(committed[key])}, "
                   f"over its {format_dkk(limit)}")


def accepted_version(app: AppFacts) -> Acceptance | None:
    """The acceptance in force: the highest accepted version (then the latest event)."""
    if not app.accepted:
        return None
    return max(app.accepted, key=lambda a: (a.version, a.ref))


def accepted_received(facts: LogFacts, app: AppFacts) -> Received | None:
    """The received version that was accepted, if both are in the log."""
    acceptance = accepted_version(app)
    return facts.submissions.get(acceptance.submission_id) if acceptance else None


def _awards_within_applied(facts: LogFacts) -> Iterator[Candidate]:
    """(b)"""
    for app in facts.apps.values():
        if not app.awards:
            continue
        received = accepted_received(facts, app)
        for award in app.awards:
            if received is None:
                yield (inv.AWARD_WITHIN_APPLIED, award.ref,
                       "award for an application with no accepted, received version in the log")
            elif award.amount_oere > received.total_oere:
                yield (inv.AWARD_WITHIN_APPLIED, award.ref,
                       f"award {format_dkk(award.amount_oere)} exceeds the "
                       f"{format_dkk(received.total_oere)} applied for in version "
                       f"{received.version}")


def award_in_force(app: AppFacts) -> int | None:
    """The amount of the latest award (by log key), or None when there is none."""
    return max(app.awards).amount_oere if app.awards else None


def _budgets_within_award(facts: LogFacts) -> Iterator[Candidate]:
    """(c) The budget's own months are summed: a stated total cannot hide a larger budget."""
    for app in facts.apps.values():
        award = award_in_force(app)
        for ref, version, total in app.approved_budgets:
            if award is None:
                yield (inv.BUDGET_WITHIN_AWARD, ref,
                       f"budget version {version} approved for a grant with no award")
            elif total > award:
                yield (inv.BUDGET_WITHIN_AWARD, ref,
                       f"budget version {version} totals {format_dkk(total)}, over the award "
                       f"{format_dkk(award)}")


def _payments(facts: LogFacts) -> Iterator[Candidate]:
    """(d) Instructed amounts, cumulated in log order, against the budget in force and the
    award. An instruction that replaces an unexecuted one takes its place instead of adding."""
    for app in facts.apps.values():
        instructions = app.instructions()
        if not instructions:
            continue
        award = award_in_force(app)
        budgets = sorted(app.approved_budgets)
        amounts = {i.instruction_id: i.amount_oere for i in instructions}
        accepted_at = at_us(app.award_accepted) if app.award_accepted else None
        earlier = 0  # the instructions before this one, each at what payments counts it
        claims = sorted(app.overpayment_claims)
        for ref, instruction_id, amount, replaces in sorted(instructions):
            occurred_at = at_us(ref)
            if accepted_at is None or occurred_at < accepted_at:
                yield (inv.NO_PAYMENT_BEFORE_ACCEPTANCE, ref,
                       "payment instructed before the award was accepted" if accepted_at
                       else "payment instructed for an award that was never accepted")
            if replaces is not None and replaces in amounts and replaces not in facts.executed_oere:
                earlier -= amounts[replaces]
            while claims and claims[0][0] < ref:  # claimed back by payments (R17)
                earlier -= claims.pop(0)[1]
            cumulated = earlier + amount
            # An executed instruction counts at what finance paid when that is less: payments'
            # ledger instructs the shortfall again.
            earlier += min(amount, facts.executed_oere.get(instruction_id, amount))
            budget = _budget_in_force(budgets, occurred_at)
            if budget is None:
                yield (inv.PAYMENTS_WITHIN_BUDGET, ref, "payment instructed before any approved "
                       "revised budget")
                continue
            limit = budget if award is None else min(budget, award)
            if cumulated > limit:
                yield (inv.PAYMENTS_WITHIN_BUDGET, ref,
                       f"payments reach {format_dkk(cumulated)}, over the approved budget "
                       f"{format_dkk(budget)} / award {format_dkk(award or 0)}")


def _budget_in_force(budgets: list[tuple[Ref, int, int]], at: int) -> int | None:
    """The total of the latest budget approved at or before ``at`` (µs; log order among them)."""
    total = None
    for ref, _version, budget_total in budgets:
        if at_us(ref) > at:
            break
        total = budget_total
    return total


def once_per_applicant(facts: LogFacts, award: Award) -> bool:
    """Whether the award's pool (the version it names) holds once per applicant; a version
    not in the log counts as holding it (the rule's default)."""
    published = facts.pool_versions.get((award.pool_id, award.pool_version))
    return True if published is None else bool(
        published[1].definition.once_per_applicant_in_programme)


def _one_award_per_applicant(facts: LogFacts) -> Iterator[Candidate]:
    """(e) The applicant is the legal entity (``Award.applicant``: its CVR, and a municipality's
    municipality). An award made under a pool with ``once_per_applicant_in_programme`` may have
    no other award to the same applicant before it in the programme, nor an imported prior award
    (history, wherever it sits in the log); a pool without the rule allows it."""
    priors: dict[str, list[frozenset[str]]] = {}
    for prior in facts.priors:
        priors.setdefault(prior[1], []).append(prior[4])
    seen: dict[str, list[frozenset[str]]] = {}
    for award in sorted(facts.awards):
        earlier = seen.setdefault(award.programme, [])
        if once_per_applicant(facts, award):
            before = sum(1 for keys in earlier if not keys.isdisjoint(award.applicant))
            imported = sum(1 for keys in priors.get(award.programme, ())
                           if not keys.isdisjoint(award.applicant))
            if before or imported:
                yield (inv.ONE_AWARD_PER_APPLICANT, award.ref,
                       f"the applicant (same CVR, or the same municipality "
                       f"{award.municipality_code} as a municipality) already has an award in "
                       f"programme {award.programme} ({imported} imported, {before} in this log)")
        earlier.append(award.applicant)


def pool_deadline(facts: LogFacts, pool_id: str) -> datetime | None:
    """The deadline of the highest published version of the pool, if the pool is in the log."""
    pool = facts.latest_pool(pool_id)
    if pool is None:
        return None
    return pool.deadline or pool.definition.deadline_instant()


def _late_acceptances(facts: LogFacts) -> Iterator[Candidate]:
    """(f) Timeliness is re-derived from the received time against the pool's own deadline
    (the deadline intake stated on the receipt when the pool is not in the log)."""
    deadlines: dict[str, int | None] = {}  # µs
    for app in facts.apps.values():
        for ref, submission_id, version, basis, exception_id, pool_id in app.accepted:
            if basis == "on_time":
                received = facts.submissions.get(submission_id)
                if received is None:
                    yield (inv.NO_LATE_ACCEPTANCE, ref,
                           f"version {version} accepted as on time but never received")
                    continue
                if pool_id not in deadlines:
                    published = pool_deadline(facts, pool_id)
                    deadlines[pool_id] = None if published is None else micros(published)
                deadline = deadlines[pool_id]
                if deadline is None:
                    deadline = received.deadline
                if received.received_at > deadline:
                    yield (inv.NO_LATE_ACCEPTANCE, ref,
                           f"version {version} received "
                           f"{instant(received.received_at).isoformat()}, after the deadline "
                           f"{instant(deadline).isoformat()}, accepted as on time")
            elif not _approved_before(app, exception_id, at_us(ref)):
                yield (inv.NO_LATE_ACCEPTANCE, ref,
                       f"version {version} accepted on an exception with no approved "
                       f"ItProblemExceptionDecided before it")


def _approved_before(app: AppFacts, exception_id: Any, at: int) -> bool:
    """The latest decision on the exception at or before ``at`` (µs) approved it."""
    decisions = [d for d in app.exception_decisions
                 if at_us(d[0]) <= at and (exception_id is None or d[1] == exception_id)]
    return bool(decisions) and max(decisions, key=lambda d: d[0])[2]


def reached_assessment(app: AppFacts) -> bool:
    """Whether assessment said anything about the application: its eligibility gate, a score,
    or an allocation decision."""
    return (app.eligibility_ref is not None or app.score_ref is not None or bool(app.awards)
            or app.rejection is not None)


def _accepted_reach_assessment(facts: LogFacts) -> Iterator[Candidate]:
    """(g) An accepted application with no assessment event is lost only once the log proves
    assessment moved past it: it decided the application's pool after (``occurred_at``) the
    acceptance. Until then the acceptance may be in flight (a replay while the pipeline drains,
    or a pool not decided yet) and nothing is claimed. Dead letters are not consulted: the
    violation is the missing effect, whatever the cause."""
    decided_last: dict[str, Ref] = {}  # per pool, its latest GrantAwarded / ApplicationRejected
    decisions = [(a.pool_id, a.ref) for a in facts.awards] + [
        (app.pool_id, app.rejection.ref) for app in facts.apps.values()
        if app.rejection is not None and app.pool_id is not None]
    for pool_id, ref in decisions:
        if pool_id not in decided_last or ref > decided_last[pool_id]:
            decided_last[pool_id] = ref
    for app in facts.apps.values():
        if not app.accepted or reached_assessment(app):
            continue
        for acceptance in sorted(app.accepted):
            decided = decided_last.get(acceptance.pool_id)
            if decided is not None and at_us(decided) > at_us(acceptance.ref):
                basis = "on time" if acceptance.basis == "on_time" else "on an exception"
                yield (inv.ACCEPTED_REACHES_ASSESSMENT, acceptance.ref,
                       f"version {acceptance.version}, accepted {basis}, never reached "
                       f"assessment: no assessment event for the application, though its pool "
                       f"was decided after the acceptance (latest decision "
                       f"{instant(at_us(decided)).isoformat()})")
                break

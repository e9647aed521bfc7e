"""R11: every criterion scored 0–5 with a justification; recusals; rescoring; the aggregate."""

from __future__ import annotations

from fractions import Fraction
from uuid import uuid4

import pytest

from contracts.refusal import Refusal
from services.assessment.domain import ScoreApplication, exact_score, score_application
from services.assessment.domain.scoring import latest_scores, minimum_requirements_met

from .builders import FULL, Harness, app_id, pool_raw, received, scores_summing


def refused(h: Harness, **kw) -> Refusal:  # type: ignore[no-untyped-def]
    kw.setdefault("application_id", app_id("A"))
    kw.setdefault("assessor", "assessor-a")
    kw.setdefault("justification", "reasons")
    with pytest.raises(Refusal) as caught:
        score_application(h.round, ScoreApplication(**kw))
    return caught.value


@pytest.fixture
def h() -> Harness:
    harness = Harness()
    harness.submit("A", "101", 1_000_000_00)
    return harness


def test_a_full_score_is_recorded_with_the_aggregate(h: Harness) -> None:
    event = h.score("A", "assessor-a", FULL, justification="  clear plan  ")
    assert event.scores == FULL and not event.recused
    assert event.justification == "clear plan"
    assert event.aggregate_score == 22.0


def test_missing_criteria_are_refused(h: Harness) -> None:
    error = refused(h, scores={"1": 5, "2": 5, "3": 4, "4": 4})
    assert (error.code, error.kind) == ("criteria_incomplete", "invalid")
    assert "5" in error.message
    assert refused(h, scores={}).code == "criteria_incomplete"


@pytest.mark.parametrize("key", ["6", "0", "x", "1.5", ""])
def test_unknown_criteria_are_refused(h: Harness, key: str) -> None:
    error = refused(h, scores={**FULL, key: 3})
    assert (error.code, error.kind) == ("criterion_unknown", "invalid")


def test_integer_and_padded_keys_name_the_same_criteria(h: Harness) -> None:
    event = h.score("A", "assessor-a", {1: 5, 2: 5, " 3": 4, "04": 4, "5": 4})
    assert event.scores == FULL


@pytest.mark.parametrize("bad", [-1, 6])
def test_scores_outside_0_to_5_are_refused(h: Harness, bad: int) -> None:
    error = refused(h, scores={**FULL, "3": bad})
    assert (error.code, error.kind) == ("score_out_of_range", "invalid")


@pytest.mark.parametrize("edge", [0, 5])
def test_scores_at_the_edges_are_fine(h: Harness, edge: int) -> None:
    assert h.score("A", "assessor-a", {str(i): edge for i in range(1, 6)}).aggregate_score == edge * 5


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_a_score_without_written_justification_is_refused(h: Harness, text: str) -> None:
    error = refused(h, scores=FULL, justification=text)
    assert (error.code, error.kind) == ("justification_missing", "invalid")


def test_unknown_or_unaccepted_application_is_refused(h: Harness) -> None:
    error = refused(h, application_id=uuid4(), scores=FULL)
    assert (error.code, error.kind) == ("application_unknown", "not_found")
    h.apply(received("B", "147", 1_000_00))
    error = refused(h, application_id=app_id("B"), scores=FULL)
    assert (error.code, error.kind) == ("application_not_accepted", "conflict")


def test_a_decided_application_cannot_be_scored(h: Harness) -> None:
    h.score("A", "assessor-a")
    h.allocate()
    error = refused(h, assessor="assessor-b", scores=FULL)
    assert (error.code, error.kind) == ("application_decided", "conflict")


def test_recusal_is_recorded_and_blocks_later_scores(h: Harness) -> None:
    event = h.score("A", "assessor-c", justification="former employee", conflict=True)
    assert event.recused and event.scores == {}
    assert event.justification == "former employee"
    assert event.aggregate_score is None
    error = refused(h, assessor="assessor-c", scores=FULL)
    assert (error.code, error.kind) == ("assessor_recused", "conflict")
    assert refused(h, assessor="assessor-c", conflict_of_interest=True).code == "assessor_recused"


def test_recusal_needs_no_scores_and_gets_a_default_justification(h: Harness) -> None:
    event = h.score("A", "assessor-c", scores={"1": 5}, justification=" ", conflict=True)
    assert event.recused and event.scores == {}
    assert event.justification == "conflict of interest declared"


def test_recusal_after_scoring_drops_the_earlier_scores(h: Harness) -> None:
    h.score("A", "assessor-a", scores_summing(20))
    h.score("A", "assessor-b", scores_summing(10))
    event = h.score("A", "assessor-b", conflict=True)
    assert event.aggregate_score == 20.0
    assert set(latest_scores(h.round.file(app_id("A")))) == {"assessor-a"}


def test_a_rescore_replaces_the_earlier_scores_and_history_is_kept(h: Harness) -> None:
    h.score("A", "assessor-a", scores_summing(10))
    event = h.score("A", "assessor-a", scores_summing(20), justification="on reflection")
    assert event.aggregate_score == 20.0
    file = h.round.file(app_id("A"))
    assert [sum(s.scores.values()) for s in file.scorings] == [10, 20]
    assert exact_score(file) == 20


def test_aggregate_is_the_mean_of_assessor_totals(h: Harness) -> None:
    h.score("A", "assessor-a", scores_summing(22))
    event = h.score("A", "assessor-b", scores_summing(21))
    assert event.aggregate_score == 21.5
    h.score("A", "assessor-c", scores_summing(21))
    file = h.round.file(app_id("A"))
    assert exact_score(file) == Fraction(64, 3)
    assert file.scorings[-1].aggregate_score == 21.33


def test_no_scores_means_no_aggregate(h: Harness) -> None:
    assert exact_score(h.round.file(app_id("A"))) is None
    h.score("A", "assessor-c", conflict=True)
    assert exact_score(h.round.file(app_id("A"))) is None


def test_minimum_requirement_mean_at_threshold_passes_below_fails() -> None:
    raw = pool_raw(minimum_requirement_threshold=3)
    h = Harness(raw)
    h.submit("A", "101", 1_000_00)
    h.submit("B", "147", 1_000_00)
    pool = h.round.definition
    h.score("A", "assessor-a", scores_summing(13, first=3))
    h.score("A", "assessor-b", scores_summing(13, first=3))
    assert minimum_requirements_met(pool, h.round.file(app_id("A")))
    h.score("B", "assessor-a", scores_summing(13, first=3))
    h.score("B", "assessor-b", scores_summing(12, first=2))  # mean 2.5 < 3
    assert not minimum_requirements_met(pool, h.round.file(app_id("B")))


def test_default_threshold_is_1() -> None:
    h = Harness()
    h.submit("A", "101", 1_000_00)
    h.submit("B", "147", 1_000_00)
    pool = h.round.definition
    h.score("A", "assessor-a", scores_summing(16, first=1))
    h.score("B", "assessor-a", scores_summing(20, first=0))
    assert minimum_requirements_met(pool, h.round.file(app_id("A")))
    assert not minimum_requirements_met(pool, h.round.file(app_id("B")))


def test_minimum_mean_half_fails_then_passes_after_recusal(h: Harness) -> None:
    pool = h.round.definition
    h.score("A", "assessor-a", scores_summing(16, first=1))
    h.score("A", "assessor-b", scores_summing(15, first=0))
    assert not minimum_requirements_met(pool, h.round.file(app_id("A")))
    h.score("A", "assessor-b", conflict=True)
    assert minimum_requirements_met(pool, h.round.file(app_id("A")))

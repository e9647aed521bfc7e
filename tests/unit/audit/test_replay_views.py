"""The replay's application views are built without validation and with their fields in a
key-sharing instance dict (audit.replay.projection._construct): each must be the very model
validation gives for its values, and smaller than model_construct's."""

from __future__ import annotations

import sys

import pytest

from audit.replay import ApplicationView, Replay, replay, state_digest
from tests.unit.reporting.builders import example_round


def test_views_equal_validated_views_and_share_their_keys() -> None:
    result = replay(example_round().log.events)
    full = [v for v in result.applications.values() if v.model_fields_set == set(
        ApplicationView.model_fields)]
    assert full, "the example round has applications"
    for view in full:
        dumped = view.model_dump()
        validated = ApplicationView.model_validate(dumped)
        assert view == validated and validated == view
        assert view.model_dump(mode="json") == validated.model_dump(mode="json")
        assert view.model_fields_set == validated.model_fields_set
        assert list(vars(view)) == list(ApplicationView.model_fields)
        assert view.__pydantic_extra__ is None and view.__pydantic_private__ is None
        constructed = ApplicationView.model_construct(**dumped)
        assert sys.getsizeof(vars(view)) < sys.getsizeof(vars(constructed)) / 2


def test_a_released_result_is_the_same_and_the_replay_is_spent() -> None:
    rnd = example_round()
    rnd.award("GENTOFTE", rnd.log.events[-1].envelope.occurred_at, rank=2)  # a violation too
    events = rnd.log.events
    kept, spent = Replay().apply_all(events), Replay().apply_all(events)
    released = spent.result(release=True)
    assert released == kept.result() and state_digest(released) == kept.state_digest()
    assert not released.verified and released.applications
    assert spent.facts.apps == {} and len(spent.facts.instruction_app) == 0
    with pytest.raises(RuntimeError, match="released"):
        spent.apply_all(events[:1])
    with pytest.raises(RuntimeError, match="released"):
        spent.result()

"""The replay's application views are built without validation and with their fields in a
key-sharing instance dict (audit.replay.projection._construct): each must be the very model
validation gives for its values, and smaller than model_construct's."""

from __future__ import annotations

import sys

from audit.replay import ApplicationView, replay
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

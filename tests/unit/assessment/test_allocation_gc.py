"""An allocation runs with the cyclic GC paused (services/assessment/service.py: its full
collections were half of a 50,000-application allocation's CPU), and leaves the collector as it
found it, also when two allocations overlap and end in either order."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from services.assessment.service import _cyclic_gc_paused


@pytest.fixture
def gc_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_overlapping_allocations_enable_the_collector_after_the_last(gc_on: None) -> None:
    first, second = _cyclic_gc_paused(), _cyclic_gc_paused()
    first.__enter__()
    assert not gc.isenabled()
    second.__enter__()
    first.__exit__(None, None, None)  # the first one ends while the second still runs
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_failed_allocation_enables_it_again(gc_on: None) -> None:
    with pytest.raises(RuntimeError), _cyclic_gc_paused():
        raise RuntimeError("refused")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off(gc_on: None) -> None:
    gc.disable()
    with _cyclic_gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()

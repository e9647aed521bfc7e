"""Which broker refusals the relay holds a row for (servicekit.relay.refused_for_good): only
those about the record itself. Every other error is a state of the broker that goes away, and
the batch is tried again in order (the broker-outage test T7 saw ``UnknownError`` park healthy
submissions while the restarted broker had no topics yet)."""

from __future__ import annotations

import pytest
from aiokafka import errors

from servicekit.relay import refused_for_good


@pytest.mark.parametrize("error", [
    errors.MessageSizeTooLargeError, errors.RecordTooLargeError, errors.RecordListTooLargeError,
    errors.CorruptRecordException, errors.InvalidTopicError,
])
def test_a_record_the_broker_refuses_as_such_is_held(error: type[errors.KafkaError]) -> None:
    assert refused_for_good(error())


@pytest.mark.parametrize("error", [
    errors.UnknownError, errors.TopicAuthorizationFailedError, errors.UnknownTopicOrPartitionError,
    errors.NotLeaderForPartitionError, errors.KafkaTimeoutError, errors.KafkaConnectionError,
    errors.NodeNotReadyError, errors.RequestTimedOutError,
])
def test_a_state_of_the_broker_holds_nothing(error: type[errors.KafkaError]) -> None:
    # non-retriable for aiokafka, some of them, yet about the broker, not the row
    assert not refused_for_good(error())

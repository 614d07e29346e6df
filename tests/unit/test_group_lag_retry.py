"""Which broker answers make the lag probe try again, and which it reports at once."""

from confluent_kafka import KafkaError, KafkaException

from streams.admin import _retriable


def test_coordinator_moving_or_loading_is_retried():
    for code in (KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                 KafkaError.COORDINATOR_NOT_AVAILABLE, KafkaError._TIMED_OUT):
        assert _retriable(KafkaException(KafkaError(code)))


def test_authorisation_or_unknown_topic_is_reported_at_once():
    assert not _retriable(KafkaException(KafkaError(KafkaError.GROUP_AUTHORIZATION_FAILED)))
    assert not _retriable(KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART)))
    assert not _retriable(ValueError("not from the broker"))

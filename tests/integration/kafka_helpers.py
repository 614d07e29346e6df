"""Reading back what the tests wrote to Kafka."""

from __future__ import annotations

from confluent_kafka import Consumer, KafkaException, TopicPartition
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_fixed

from core.clients import KafkaConfig

__all__ = ["read_at", "end_offsets"]


def read_at(kafka: KafkaConfig, topic: str, partition: int, offset: int, timeout: float = 20):
    """The message stored at one offset."""
    consumer = Consumer(
        {**kafka, "group.id": "tests-readback", "enable.auto.commit": False}
    )
    try:
        consumer.assign([TopicPartition(topic, partition, offset)])
        message = consumer.poll(timeout)
        assert message is not None, f"nothing at {topic}[{partition}]@{offset}"
        assert message.error() is None, message.error()
        return message
    finally:
        consumer.close()


@retry(
    retry=retry_if_exception_type(KafkaException),
    stop=stop_after_delay(20),
    wait=wait_fixed(0.2),
    reraise=True,
)
def end_offsets(kafka: KafkaConfig, topic: str, partitions: int) -> list[int]:
    """The high watermark of each partition (retried while a new topic elects leaders)."""
    consumer = Consumer({**kafka, "group.id": "tests-readback"})
    try:
        return [
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        ]
    finally:
        consumer.close()

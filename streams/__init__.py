"""Kafka side: topic catalogue, producer, the worker's faust app and agents."""

"""`stories bench`: throughput, freshness, read latency, replay, fan-out, footprint and media."""

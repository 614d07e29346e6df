"""Footprint: Redis bytes per active story, per tray entry, per counted view, per seen story,
per follow and per expiry entry; CQL bytes per viewer row; Kafka bytes per event of each topic.

Redis: `MEMORY USAGE key SAMPLES 0` (every nested value counted) summed over the keys of each
kind under the deployment's prefixes, divided by how many items those keys hold.

CQL: a table cannot be flushed through the driver, but a schema change flushes it: altering
`memtable_flush_period_in_ms` of the scratch viewer table (which holds exactly the rows the
ingest ceiling wrote) makes Cassandra write its memtable to SSTables. The SSTable files on disk
(compressed, as stored) divided by the rows give bytes per viewer entry. Where the data folder
is not local, `system_views.disk_usage` (whole mebibytes) is the fallback.

Kafka: the log segments of each of the deployment's topics in the broker's data folder (as
stored: compressed batches, indexes aside) divided by the events the topic holds.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from core.clients import kafka_config
from core.settings import Settings
from projections.runtime import Runtime
from streams.topics import TOPICS, topic_name

__all__ = ["redis_footprint", "cql_viewer_footprint", "kafka_footprint"]

SCAN_BATCH = 2000


def _keys_by_kind(runtime: Runtime, kinds: set[str]) -> dict[str, list[bytes]]:
    """Every key of these kinds under the live prefixes."""
    found: dict[str, list[bytes]] = defaultdict(list)
    for prefix in set(runtime.version.redis_prefixes().values()):
        for key in runtime.redis.scan_iter(match=f"{prefix}*", count=SCAN_BATCH):
            kind = key.decode()[len(prefix):].split(":", 1)[0]
            if kind in kinds:
                found[kind].append(key)
    return found


def _pipelined(runtime: Runtime, keys: list[bytes], command: str, *args: Any) -> list[Any]:
    results: list[Any] = []
    for start in range(0, len(keys), SCAN_BATCH):
        pipe = runtime.redis.pipeline(transaction=False)
        for key in keys[start:start + SCAN_BATCH]:
            pipe.execute_command(*command.split(), key, *args)
        results.extend(pipe.execute())
    return results


def _usage(runtime: Runtime, keys: list[bytes]) -> int:
    return sum(n or 0 for n in _pipelined(runtime, keys, "MEMORY USAGE", "SAMPLES", "0"))


def _per(total: int, items: int) -> float | None:
    return round(total / items, 1) if items else None


def redis_footprint(runtime: Runtime) -> dict[str, Any]:
    """Bytes per active story (a, av, s, o keys and the expiry zset), tray entry (with its
    version), counted view, seen story, follow (both directions) and expiry index entry."""
    keys = _keys_by_kind(runtime, {"a", "av", "s", "o", "x", "t", "ti", "tv", "ve", "vv", "seen",
                                   "fr", "fg"})
    stories = sum(_pipelined(runtime, keys["a"], "HLEN"))
    story_bytes = sum(_usage(runtime, keys[k]) for k in ("a", "av", "s", "o", "x"))
    entries = sum(_pipelined(runtime, keys["t"], "ZCARD"))
    tray_bytes = sum(_usage(runtime, keys[k]) for k in ("t", "ti", "tv"))
    views = sum(_pipelined(runtime, keys["ve"], "SCARD"))
    view_bytes = _usage(runtime, keys["ve"]) + _usage(runtime, keys["vv"])
    return {
        "active_stories": stories, "bytes_per_active_story": _per(story_bytes, stories),
        "tray_entries": entries, "bytes_per_tray_entry": _per(tray_bytes, entries),
        "counted_views": views, "counter_bytes_per_view": _per(view_bytes, views),
        "seen_sets": len(keys["seen"]), **_per_member(runtime, keys, "seen", ("seen",), "SCARD"),
        **_per_member(runtime, keys, "follow", ("fr", "fg"), "SCARD", halve=True),
        **_per_member(runtime, keys, "expiry", ("x",), "ZCARD"),
        "method": "MEMORY USAGE SAMPLES 0 per key, summed by kind",
    }


def _per_member(runtime: Runtime, keys: dict[str, list[bytes]], name: str, kinds: tuple[str, ...],
                count: str, halve: bool = False) -> dict[str, Any]:
    """`<name>_entries` and `bytes_per_<name>_entry` over the members of these kinds' keys;
    `halve`: each entry is a member of two keys (a follow is in both users' sets)."""
    members = sum(sum(_pipelined(runtime, keys[k], count)) for k in kinds)
    entries = members // 2 if halve else members
    used = sum(_usage(runtime, keys[k]) for k in kinds)
    return {f"{name}_entries": entries, f"bytes_per_{name}_entry": _per(used, entries)}


def _sstable_bytes(folder: Path) -> tuple[int, int]:
    """(all SSTable component bytes, Data.db bytes) of a table's folder."""
    files = [f for f in folder.glob("*") if f.is_file() and not f.name.endswith(".log")]
    return sum(f.stat().st_size for f in files), sum(
        f.stat().st_size for f in files if f.name.endswith("Data.db"))


def _flushed(folder: Path) -> bool:
    """SSTables exist and no flush transaction is still open."""
    return any(folder.glob("*Data.db")) and not any(folder.glob("*_txn_*.log"))


def cql_viewer_footprint(runtime: Runtime, keyspace: str, rows: int) -> dict[str, Any]:
    """Bytes per viewer row of a table holding exactly `rows` rows, after a forced flush."""
    session = runtime.session
    session.execute(f"ALTER TABLE {keyspace}.story_viewers WITH memtable_flush_period_in_ms = 60000",
                    timeout=60)
    data = runtime.settings.state_dir / "cassandra" / "data" / "data" / keyspace
    folders = list(data.glob("story_viewers-*"))
    if folders:
        folder = folders[0]
        deadline = time.monotonic() + 60
        while not _flushed(folder) and time.monotonic() < deadline:
            time.sleep(0.2)
        total, data_bytes = _sstable_bytes(folder)
        return {"rows": rows, "sstable_bytes": total, "data_db_bytes": data_bytes,
                "bytes_per_viewer_row": _per(total, rows),
                "data_bytes_per_viewer_row": _per(data_bytes, rows),
                "method": "SSTable files on disk after a flush forced by ALTER TABLE (LZ4)"}
    return _disk_usage_fallback(runtime, keyspace, rows)


def _disk_usage_fallback(runtime: Runtime, keyspace: str, rows: int) -> dict[str, Any]:
    time.sleep(2)
    row = runtime.session.execute(
        "SELECT mebibytes FROM system_views.disk_usage WHERE keyspace_name = %s"
        " AND table_name = 'story_viewers'", (keyspace,)).one()
    total = (row.mebibytes if row else 0) * 1024 * 1024
    return {"rows": rows, "sstable_bytes": total, "bytes_per_viewer_row": _per(total, rows),
            "method": "system_views.disk_usage (whole MiB) after a flush forced by ALTER TABLE"}



def _events_held(settings: Settings) -> dict[str, tuple[str, int, int]]:
    """Each topic's suffix -> its full name, the events it holds (high - low watermarks) and
    its partition count."""
    consumer = Consumer({**kafka_config(settings), "group.id": f"{settings.topic_prefix}-footprint"})
    try:
        held = {}
        for topic in TOPICS:
            name = topic_name(topic, settings.topic_prefix)
            marks = [consumer.get_watermark_offsets(TopicPartition(name, p), timeout=10)
                     for p in range(topic.partitions)]
            held[topic.suffix] = (name, sum(high - low for low, high in marks), topic.partitions)
        return held
    finally:
        consumer.close()


def _partition_dirs(log_dirs: list[Path], name: str) -> list[Path]:
    """A topic's partition folders (`<name>-<n>`) on every broker, not those of a topic whose
    name goes on (`dead-letter-redriven` after `dead-letter`)."""
    return [p for d in log_dirs for p in d.glob(f"{name}-*")
            if p.is_dir() and p.name[len(name) + 1:].isdigit()]


def kafka_footprint(settings: Settings) -> dict[str, Any]:
    """Bytes on disk per event of each of the deployment's topics, from the local brokers' data
    folders (every replica counted; waiting when no broker is local)."""
    log_dirs = sorted(d for d in settings.state_dir.glob("kafka*/data") if d.is_dir())
    if not log_dirs:
        return {"status": "waiting",
                "reason": f"no broker data folder under {settings.state_dir}"}
    found: dict[str, Any] = {}
    for suffix, (name, events, partition_count) in _events_held(settings).items():
        partitions = _partition_dirs(log_dirs, name)
        stored = sum(f.stat().st_size for p in partitions for f in p.glob("*.log"))
        copies = max(len(partitions) / partition_count, 1)
        found[suffix] = {"events": events, "bytes": stored, "replicas": copies,
                         "bytes_per_event": _per(round(stored / copies), events)}
    return {"topics": found, "brokers": len(log_dirs),
            "method": "log segment files (*.log) per topic / replicas / events held"}

"""Reconciliation: whatever the media worker missed (a crash, a store away, a lost schedule).

It removes
- keys of stories that expired (plus the grace) and that no highlight holds;
- objects under `media/` whose story has no key in use (never had one, was rejected,
  destroyed, or just lost it above);
- uploads under `uploads/` older than the upload deadline (plus the grace) that no
  unfinished job waits for;

and puts unfinished jobs missing from the Redis schedule back on it. Every candidate
object's story is read again just before deletion, so a job that started during the run is
never robbed. Runs in the worker every `STORIES_MEDIA_RECONCILE_INTERVAL` seconds and as
`stories reconcile-media`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from core.clock import to_ms
from core.metrics import MEDIA_DESTROYED
from core.settings import Settings
from media.clients import MediaClients, media_clients
from media.layout import MEDIA, UPLOADS, story_of_object, upload_key
from media.state import PENDING, PROCESSING, MediaRecord
from projections.runtime import Runtime

__all__ = ["ReconcileReport", "reconcile_media", "reconcile_with_settings"]

log = logging.getLogger(__name__)


@dataclass
class ReconcileReport:
    """What one run removed (or, in a dry run, would remove)."""

    dry_run: bool = False
    keys_destroyed: list[str] = field(default_factory=list)
    media_objects: list[str] = field(default_factory=list)
    uploads: list[str] = field(default_factory=list)
    jobs_resumed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        return (f"{verb} {len(self.keys_destroyed)} keys, {len(self.media_objects)} media objects,"
                f" {len(self.uploads)} uploads; {len(self.jobs_resumed)} jobs back on schedule")

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class _Run:
    """One run's clock and switches."""

    clients: MediaClients
    now: datetime
    dry_run: bool

    @property
    def now_ms(self) -> int:
        return to_ms(self.now)

    @property
    def grace(self) -> timedelta:
        return timedelta(seconds=self.clients.settings.media_reconcile_grace)


def reconcile_media(clients: MediaClients, now: datetime | None = None,
                    dry_run: bool = False) -> ReconcileReport:
    """One pass over the media keyspace and the bucket; see the module doc."""
    run = _Run(clients, now or datetime.now(UTC), dry_run)
    report = ReconcileReport(dry_run=dry_run)
    rows = {record.story_id: record for record in clients.store.scan()}
    report.keys_destroyed = _stale_keys(run, rows.values())
    report.jobs_resumed = _lost_jobs(run, rows.values())
    report.media_objects = _orphan_media(run, set(report.keys_destroyed))
    report.uploads = _orphan_uploads(run, rows.values())
    return report


def _stale_keys(run: _Run, rows: Iterable[MediaRecord]) -> list[str]:
    """Keys of stories past their time that no highlight keeps."""
    cutoff = run.now_ms - int(run.grace.total_seconds() * 1000)
    stale = [r for r in rows if r.in_use and r.job is not None and r.job.expires_at <= cutoff
             and not run.clients.holding(r.story_id)]
    for record in stale:
        if not run.dry_run:
            _destroy(run, record)
    return [record.story_id for record in stale]


def _destroy(run: _Run, record: MediaRecord) -> None:
    assert record.job is not None
    run.clients.store.destroy(record.story_id, run.now_ms)
    run.clients.schedule.remove(record.story_id)
    run.clients.schedule.unkeep(record.job.author_id, record.story_id)
    MEDIA_DESTROYED.labels("reconciled").inc()


def _lost_jobs(run: _Run, rows: Iterable[MediaRecord]) -> list[str]:
    """Unfinished jobs of active stories that the schedule forgot (Redis lost its data)."""
    lost = [r.story_id for r in rows if r.unfinished and r.job is not None
            and r.job.expires_at > run.now_ms and not run.clients.schedule.scheduled(r.story_id)]
    if not run.dry_run:
        for story_id in lost:
            run.clients.schedule.add(story_id, run.now_ms)
    return lost


def _orphan_media(run: _Run, destroyed: set[str]) -> list[str]:
    """Objects under media/ that no story with a key in use refers to."""
    settled_before = run.now - run.grace
    candidates: dict[str | None, list[str]] = {}
    for item in run.clients.objects.listing(MEDIA):
        story_id = story_of_object(item.key)
        if story_id in destroyed or item.last_modified <= settled_before:
            candidates.setdefault(story_id, []).append(item.key)
    orphans = [key for story_id, keys in candidates.items()
               if story_id in destroyed or not _wanted(run, story_id) for key in keys]
    if not run.dry_run:
        run.clients.objects.delete(orphans)
    return orphans


def _wanted(run: _Run, story_id: str | None) -> bool:
    """Read the story's row now, not from the scan: a job may have started since."""
    if story_id is None:
        return False
    record = run.clients.store.load(story_id)
    return record is not None and record.in_use


def _orphan_uploads(run: _Run, rows: Iterable[MediaRecord]) -> list[str]:
    """Uploads past the deadline (and the grace) that no waiting job will ever read."""
    settings = run.clients.settings
    cutoff = run.now - timedelta(seconds=settings.media_upload_deadline) - run.grace
    waited_for = {_upload_of(r) for r in rows if r.state in (PENDING, PROCESSING)}
    orphans = [item.key for item in run.clients.objects.listing(UPLOADS)
               if item.last_modified <= cutoff and item.key not in waited_for]
    if not run.dry_run:
        run.clients.objects.delete(orphans)
    return orphans


def _upload_of(record: MediaRecord) -> str | None:
    if record.job is None:
        return None
    try:
        return upload_key(record.job.author_id, record.job.media_id)
    except ValueError:
        return None


def reconcile_with_settings(settings: Settings, dry_run: bool = False) -> ReconcileReport:
    """`stories reconcile-media`: connect, run once, disconnect."""
    runtime = Runtime(settings)
    started = time.monotonic()
    try:
        report = reconcile_media(media_clients(runtime), dry_run=dry_run)
    finally:
        runtime.close()
    log.info("media reconciliation in %.1f s: %s", time.monotonic() - started, report.summary())
    return report

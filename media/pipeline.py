"""The media worker's decisions: what a post, an expiry, a deletion or a highlight edit does.

Synchronous and blocking (S3, CQL, Redis, the broker): the faust glue in `media.agent` runs
it in threads. A post registers a job; a job turns the upload into encrypted renditions and
announces the outcome exactly once in effect:

1. the story's row moves `pending → processing` with a new key (compare-and-set; a second
   attempt reuses the stored key, so overwritten objects stay decryptable);
2. renditions are encrypted and stored under deterministic keys;
3. the row moves `processing → processed` (fails if the story was destroyed meanwhile: the
   objects are deleted again and nothing is announced);
4. the event is emitted under a deterministic `event_id`, then the row is marked announced;
5. the plaintext upload is deleted.

A crash anywhere leaves a row that says how far the job got; the next attempt carries on.
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import schemas
from core.errors import STORE_ERRORS
from core.metrics import MEDIA_DESTROYED, MEDIA_OUTCOMES, MEDIA_SECONDS
from media.clients import MediaClients
from media.crypto import encrypt_blob, new_media_key, object_key_aad
from media.isolation import IsolatedProcessor, Outcome, ProcessingInterrupted, Refused
from media.layout import rendition_key, upload_key
from media.model import DEFAULT_LIMITS, MB, MediaLimits, ProcessedMedia, Rendition
from media.rejections import RejectionCode, reject
from media.schedule import ReleaseCheck
from media.state import (
    DESTROYED,
    EXTERNAL,
    PENDING,
    PROCESSED,
    REJECTED,
    MediaJob,
    MediaRecord,
)
from media.storage import STORAGE_ERRORS, UploadTooLarge
from streams.producer import EventProducer

__all__ = ["MediaPipeline", "outcome_event_id", "EVENT_NAMESPACE", "Event"]

log = logging.getLogger(__name__)

Event = tuple[str, dict[str, Any]]
EVENT_NAMESPACE = uuid.UUID("0b6f3f7e-6a43-4f43-9a57-3c1f5f0e2a11")
RETRY_MS = 10_000  # after an infrastructure failure
MIN_WAIT_MS, MAX_WAIT_MS = 500, 30_000  # polling for an upload that has not arrived
RELEASE_PATIENCE_MS = 300_000  # how long to wait for the projection to apply a highlight edit
CLAIM_MARGIN_MS = 120_000  # fetching and storing, on top of the processing time limit
_KIND_NAMES = {"IMAGE": "a photo", "VIDEO": "a video"}


def outcome_event_id(story_id: str, event_name: str) -> str:
    """The same for every emission of a story's outcome, so consumers can drop repeats."""
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{story_id}:{event_name}"))


def _wait_ms(elapsed_ms: int) -> int:
    """Poll often right after posting, then back off: a quarter of the time waited so far."""
    return min(MAX_WAIT_MS, max(MIN_WAIT_MS, elapsed_ms // 4))


class MediaPipeline:
    """Jobs, deletions and releases of story media, for one worker."""

    def __init__(self, clients: MediaClients, processor: IsolatedProcessor,
                 events: EventProducer, clock: Callable[[], float] = time.time,
                 limits: MediaLimits = DEFAULT_LIMITS):
        self.c = clients
        self.settings = clients.settings
        self.processor = processor
        self.events = events
        self.clock = clock
        self.limits = limits
        self.lease_ms = int(self.settings.media_process_timeout * 1000) + CLAIM_MARGIN_MS

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- the story-lifecycle topic -------------------------------------------------------------
    def apply_lifecycle(self, events: list[Event]) -> None:
        """Posts register jobs; outcomes from elsewhere settle them; expiry and deletion forget."""
        self._each(events, self._on_lifecycle)

    def _on_lifecycle(self, name: str, record: dict[str, Any]) -> None:
        if name == "StoryPosted":
            self.on_posted(record)
        elif name in ("MediaProcessed", "MediaRejected"):
            self.on_outcome(name, record)
        elif name == "StoryDeleted":
            self.on_deleted(record["story_id"], record["actor_id"])
        elif name == "StoryExpired":
            self.on_expired(record["story_id"], record["author_id"])

    def _each(self, events: list[Event], handle: Callable[[str, dict[str, Any]], None]) -> None:
        """A store that is away fails the batch (retried); anything else skips one event."""
        for name, record in events:
            try:
                handle(name, record)
            except STORE_ERRORS:
                raise
            except Exception:  # reconciliation catches what this one missed
                log.exception("media: %s %s not handled", name, record.get("event_id"))

    def on_posted(self, record: dict[str, Any]) -> None:
        """A story with an upload becomes a job, once, however often the post is delivered."""
        if record["kind"] == "TEXT" or record.get("media_id") is None:
            return
        job = MediaJob.from_posted(record)
        if job.expires_at <= self.now_ms():
            return  # read again from an old offset: the story is gone, nothing to show
        if self.c.store.register(job, self.now_ms()):
            self.c.schedule.add(job.story_id, self.now_ms())
            return
        known = self.c.store.load(job.story_id)
        if known is not None and known.unfinished:
            self.c.schedule.add(job.story_id, self.now_ms())  # a lost schedule entry comes back

    def on_outcome(self, name: str, record: dict[str, Any]) -> None:
        """An outcome this worker did not announce (an import, a demo) settles a waiting job."""
        story_id = record["story_id"]
        if record["event_id"] == outcome_event_id(story_id, name):
            return
        known = self.c.store.load(story_id)
        if known is not None and known.state == PENDING and known.job is not None:
            self.c.store.settle(known.job, EXTERNAL, self.now_ms())
            self.c.schedule.remove(story_id)

    def on_deleted(self, story_id: str, actor_id: str) -> None:
        """Only the author deletes, and a deletion reaches into highlights too."""
        known = self.c.store.load(story_id)
        if known is None:
            return  # a text story
        if known.job is not None and known.job.author_id != actor_id:
            log.warning("story %s: deletion by %s, not its author, ignored", story_id, actor_id)
            return
        self.forget(known, "deleted")

    def on_expired(self, story_id: str, author_id: str) -> None:
        """An expired story keeps its media while a highlight holds it."""
        known = self.c.store.load(story_id)
        if known is None or known.state == DESTROYED:
            return  # a text story, or already gone
        if self.c.holding(story_id):
            self.c.schedule.keep(author_id, story_id)
            return
        self.forget(known, "expired")

    def forget(self, known: MediaRecord, why: str) -> None:
        """Destroy the key first (then nothing stored is readable), then delete the objects."""
        if known.state == DESTROYED:
            return
        story_id = known.story_id
        self.c.store.destroy(story_id, self.now_ms())
        self.c.schedule.remove(story_id)
        MEDIA_DESTROYED.labels(why).inc()
        if known.job is not None:
            self.c.schedule.unkeep(known.job.author_id, story_id)
        self._delete_objects(story_id, known.job)

    def _delete_objects(self, story_id: str, job: MediaJob | None) -> None:
        """Best effort: whatever is left is ciphertext without a key, and reconciliation's."""
        try:
            self.c.objects.delete_story(story_id)
        except STORAGE_ERRORS as error:
            log.warning("objects of story %s not deleted yet (%s); reconciliation will", story_id,
                        error)
        if job is not None:
            self._drop_upload(job)

    # -- the highlights topic ------------------------------------------------------------------
    def apply_highlights(self, events: list[Event]) -> None:
        """A story leaving a highlight may leave the last one: check once the projection has."""
        self._each(events, self._on_highlight)

    def _on_highlight(self, name: str, record: dict[str, Any]) -> None:
        now, highlight_id = self.now_ms(), record["highlight_id"]
        if name == "HighlightStoryRemoved":
            checks = [ReleaseCheck(record["story_id"], highlight_id, now)]
        elif name == "HighlightDeleted":
            kept = self.c.schedule.kept(record["actor_id"])
            checks = [ReleaseCheck(story_id, highlight_id, now) for story_id in kept]
        else:
            return
        self.c.schedule.check_release(checks, now)

    def run_release_checks(self, limit: int = 500) -> int:
        """Forget expired stories that no highlight holds any more; returns checks done."""
        now = self.now_ms()
        checks = self.c.schedule.due_releases(now, limit)
        for check in checks:
            self._check_release(check, now)
        return len(checks)

    def _check_release(self, check: ReleaseCheck, now: int) -> None:
        holding = self.c.holding(check.story_id)
        if check.highlight_id in holding and now - check.noticed_at < RELEASE_PATIENCE_MS:
            self.c.schedule.check_release([check], now + 1000)  # projection not there yet
            return
        self.c.schedule.done_release(check)
        if holding:
            return
        known = self.c.store.load(check.story_id)
        if known is not None and known.job is not None and known.job.expires_at <= now:
            self.forget(known, "released")

    # -- jobs ----------------------------------------------------------------------------------
    def due_jobs(self, limit: int) -> list[str]:
        return self.c.schedule.due(self.now_ms(), limit)

    def run_job(self, story_id: str) -> None:
        """One attempt at a story's job under a claim; reschedules it unless it is finished."""
        token = self.c.schedule.claim(story_id, self.lease_ms)
        if token is None:
            left = self.c.schedule.claim_left_ms(story_id)
            self.c.schedule.reschedule(story_id, self.now_ms() + max(left, MIN_WAIT_MS))
            return
        try:
            due = self._attempt(story_id)
            if due is None:
                self.c.schedule.remove(story_id)
            else:
                self.c.schedule.reschedule(story_id, due)
        finally:
            self.c.schedule.unclaim(story_id, token)

    def _attempt(self, story_id: str) -> int | None:
        """The next due time, or None when the job is finished."""
        try:
            return self._advance(story_id)
        except ProcessingInterrupted:
            return self.now_ms() + MIN_WAIT_MS  # shutting down: this or another worker resumes
        except Exception:  # a store, the bucket or the broker away: try later
            log.exception("media job of story %s failed; retrying in %d s", story_id,
                          RETRY_MS // 1000)
            return self.now_ms() + RETRY_MS

    def _advance(self, story_id: str) -> int | None:
        """Carry the job on from wherever its row says it stopped."""
        known = self.c.store.load(story_id)
        if known is None or known.job is None or known.state in (EXTERNAL, DESTROYED):
            return None
        if known.state in (PROCESSED, REJECTED):
            if not known.announced:
                self._announce(known)
            self._drop_upload(known.job)
            return None
        if known.job.expires_at <= self.now_ms():
            self.forget(known, "expired")
            return None
        return self._process(known.job)

    def _process(self, job: MediaJob) -> int | None:
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="stories-media-") as folder:
            outcome = self._outcome(job, Path(folder) / "upload")
        if outcome is None:
            return self._wait_for_upload(job)
        if isinstance(outcome, Refused):
            self._reject(job, outcome)
        else:
            self._store(job, outcome.media)
        MEDIA_SECONDS.observe(time.monotonic() - started)
        return None

    def _outcome(self, job: MediaJob, path: Path) -> Outcome | None:
        """Processed or refused; None while the upload has not arrived."""
        try:
            key = upload_key(job.author_id, job.media_id)
        except ValueError:
            return _refusal(RejectionCode.UPLOAD_MISSING)  # no upload can ever have this key
        try:
            if not self.c.objects.fetch(key, path, self.limits.max_upload_bytes):
                return None
        except UploadTooLarge:
            limit = self.limits.max_upload_bytes / MB
            return _refusal(RejectionCode.TOO_LARGE, f"Files can be at most {limit:g} MB.")
        return self.processor.process(path)

    def _wait_for_upload(self, job: MediaJob) -> int | None:
        """Look again later, until the deadline; then the story is refused."""
        now = self.now_ms()
        deadline = job.deadline(self.settings.media_upload_deadline)
        if now < deadline:
            return min(deadline, now + _wait_ms(now - job.waiting_since))
        self._reject(job, _refusal(RejectionCode.UPLOAD_MISSING))
        return None

    def _reject(self, job: MediaJob, refusal: Refused) -> None:
        now = self.now_ms()
        if not self.c.store.settle(job, REJECTED, now, refusal.code, refusal.reason):
            return  # destroyed or settled meanwhile
        self._announce(MediaRecord(job.story_id, REJECTED, job, code=refusal.code,
                                   reason=refusal.reason))
        self._drop_upload(job)

    def _store(self, job: MediaJob, media: ProcessedMedia) -> None:
        """Encrypt with the story's key, store, and announce, unless the story went meanwhile."""
        if media.kind != job.kind:
            self._reject(job, _wrong_kind(media.kind, job.kind))
            return
        key = self.c.store.begin(job.story_id, new_media_key())
        if key is None:
            return
        renditions = [self._put(job.story_id, key, rendition) for rendition in media.renditions]
        if not self.c.store.finish(job.story_id, renditions):
            self._after_lost_race(job.story_id)
            return
        self._announce(MediaRecord(job.story_id, PROCESSED, job, renditions=tuple(renditions)))
        self._drop_upload(job)

    def _after_lost_race(self, story_id: str) -> None:
        """Another worker finished first (keep its objects), or the story went (delete them)."""
        known = self.c.store.load(story_id)
        if known is None or known.state == DESTROYED:
            self.c.objects.delete_story(story_id)

    def _put(self, story_id: str, key: bytes, rendition: Rendition) -> dict[str, Any]:
        """Only ciphertext reaches the bucket; the blob is bound to its object key."""
        object_key = rendition_key(story_id, rendition.name, rendition.content_type)
        blob = encrypt_blob(key, rendition.data, object_key_aad(object_key))
        self.c.objects.put_blob(object_key, blob)
        return {
            "name": rendition.name, "key": object_key, "content_type": rendition.content_type,
            "width": rendition.width, "height": rendition.height, "size_bytes": len(blob),
            "duration_ms": rendition.duration_ms,
        }

    def _announce(self, known: MediaRecord) -> None:
        """Emit the outcome and wait for the broker; only then is it marked announced."""
        assert known.job is not None
        name, fields = _outcome_fields(known)
        record = schemas.new_event(
            name, actor_id=known.job.author_id, event_id=outcome_event_id(known.story_id, name),
            story_id=known.story_id, media_id=known.job.media_id, **fields,
        )
        self.events.emit(name, record, timeout=30)
        self.c.store.mark_announced(known, self.now_ms())
        MEDIA_OUTCOMES.labels(known.code or "processed").inc()
        log.info("story %s: %s%s", known.story_id, name, f" ({known.code})" if known.code else "")

    def _drop_upload(self, job: MediaJob) -> None:
        """The upload is plaintext with its metadata: it goes as soon as it is not needed."""
        try:
            self.c.objects.delete([upload_key(job.author_id, job.media_id)])
        except ValueError:
            return
        except STORAGE_ERRORS as error:
            log.warning("upload of story %s not deleted yet (%s); reconciliation will",
                        job.story_id, error)


def _refusal(code: RejectionCode, reason: str | None = None) -> Refused:
    rejected = reject(code, reason)
    return Refused(rejected.code, rejected.reason)


def _wrong_kind(actual: str, posted: str) -> Refused:
    reason = f"This file is {_KIND_NAMES[actual]}, but the story was posted as {_KIND_NAMES[posted]}."
    return _refusal(RejectionCode.WRONG_KIND, reason)


def _outcome_fields(known: MediaRecord) -> tuple[str, dict[str, Any]]:
    """The event that announces a row's outcome, without the common fields."""
    assert known.job is not None
    if known.state == PROCESSED:
        return "MediaProcessed", {"media_kind": known.job.kind,
                                  "renditions": list(known.renditions)}
    return "MediaRejected", {"code": known.code, "reason": known.reason}


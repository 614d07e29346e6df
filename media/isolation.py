"""Process one upload in a child process of its own, killed when it runs past its time.

PyAV and Pillow are CPU-bound and parse hostile bytes: in a child they cannot stall the
worker's event loop, a crash in a decoder takes down only the child, and a file that makes
them spin is stopped at the wall-clock limit. Children fork from a forkserver that has
already imported the media code, so starting one costs a few milliseconds, and they never
inherit the worker's threads or sockets.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from media.model import DEFAULT_LIMITS, MediaLimits, ProcessedMedia
from media.processing import process_upload
from media.rejections import MediaRejectedError, RejectionCode, reject

__all__ = ["Processed", "Refused", "Outcome", "IsolatedProcessor", "ProcessingInterrupted"]

log = logging.getLogger(__name__)

Work = Callable[[str, MediaLimits], ProcessedMedia]


@dataclass(frozen=True)
class Processed:
    """The upload became renditions (plaintext; the caller encrypts them)."""

    media: ProcessedMedia


@dataclass(frozen=True)
class Refused:
    """The upload cannot become a story; `reason` is for the author's eyes."""

    code: str
    reason: str


Outcome = Processed | Refused


class ProcessingInterrupted(Exception):
    """The worker is stopping: the job is tried again later, never refused for it."""


def _refused(code: RejectionCode) -> Refused:
    rejected = reject(code)
    return Refused(rejected.code, rejected.reason)


def _child(conn: Connection, work: Work, path: str, limits: MediaLimits) -> None:
    """Runs in the child: one tagged answer down the pipe, whatever happens."""
    try:
        answer: tuple[Any, ...] = ("processed", work(path, limits))
    except MediaRejectedError as rejected:
        answer = ("refused", rejected.code, rejected.reason)
    except BaseException as error:  # noqa: BLE001 - reported to the parent, never lost
        answer = ("failed", f"{type(error).__name__}: {error}")
    conn.send(answer)
    conn.close()


class IsolatedProcessor:
    """`process(path)` runs the media pipeline in a fresh child with a wall-clock limit."""

    def __init__(self, timeout_seconds: float, limits: MediaLimits = DEFAULT_LIMITS,
                 work: Work = process_upload):
        self.timeout_seconds = timeout_seconds
        self.limits = limits
        self.work = work
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(["media.processing"])
        self._children: set[Any] = set()
        self._lock = threading.Lock()
        self._stopping = False

    def stop(self) -> None:
        """Kill running children and refuse new work (the worker is shutting down)."""
        with self._lock:
            self._stopping = True
            for child in self._children:
                child.kill()

    def process(self, path: Path) -> Outcome:
        """The outcome for the upload at `path`; blocks the calling thread, not the loop."""
        reader, writer = self.context.Pipe(duplex=False)
        child = self._start(writer, path)
        try:
            outcome = self._answer(reader, child)
        finally:
            reader.close()
            self._reap(child)
        if self._stopping:
            raise ProcessingInterrupted("the worker is stopping")
        return outcome

    def _start(self, writer: Connection, path: Path) -> Any:
        """A child working on `path`, tracked so that `stop` can kill it."""
        with self._lock:
            if self._stopping:
                raise ProcessingInterrupted("the worker is stopping")
            child = self.context.Process(
                target=_child, args=(writer, self.work, str(path), self.limits),
                name="stories-media-child", daemon=True,
            )
            child.start()
            self._children.add(child)
        writer.close()
        return child

    def _reap(self, child: Any) -> None:
        if child.is_alive():
            child.kill()
        child.join(5)
        with self._lock:
            self._children.discard(child)

    def _answer(self, reader: Connection, child: Any) -> Outcome:
        """Wait for the child's answer, at most the wall-clock limit."""
        if not reader.poll(self.timeout_seconds):
            log.warning("media processing ran past %.1f s; child killed", self.timeout_seconds)
            return _refused(RejectionCode.PROCESSING_TIMEOUT)
        try:
            answer = reader.recv()
        except EOFError:
            child.join(1)
            log.error("media child died without an answer (exit code %s)", child.exitcode)
            return _refused(RejectionCode.PROCESSING_FAILED)
        if answer[0] == "processed":
            return Processed(answer[1])
        if answer[0] == "refused":
            return Refused(answer[1], answer[2])
        log.error("media processing failed unexpectedly: %s", answer[1])
        return _refused(RejectionCode.PROCESSING_FAILED)

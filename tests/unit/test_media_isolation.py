"""Processing in a child process: results come back, runaway and crashing children do not hurt."""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from media.isolation import IsolatedProcessor, Processed, ProcessingInterrupted, Refused
from media.model import MediaLimits, ProcessedMedia
from tests.unit.media_samples import BLUE, RED, camera_jpeg, png_bomb, split_picture


def _sleep_forever(path: str, limits: MediaLimits) -> ProcessedMedia:
    time.sleep(3600)
    raise AssertionError("unreachable")


def _die(path: str, limits: MediaLimits) -> ProcessedMedia:
    os._exit(9)


def _bug(path: str, limits: MediaLimits) -> ProcessedMedia:
    raise AttributeError("a bug, not a bad file")


@pytest.fixture
def upload(tmp_path: Path):
    def write(data: bytes) -> Path:
        path = tmp_path / "upload"
        path.write_bytes(data)
        return path
    return write


def test_a_photo_is_processed_in_a_child(upload):
    outcome = IsolatedProcessor(30).process(upload(camera_jpeg(split_picture((640, 480), RED, BLUE))))
    assert isinstance(outcome, Processed)
    assert outcome.media.names == ("full", "thumbnail")
    assert outcome.media.rendition("full").data[:2] == b"\xff\xd8"


def test_a_hostile_upload_comes_back_as_its_rejection(upload):
    outcome = IsolatedProcessor(30).process(upload(png_bomb()))
    assert isinstance(outcome, Refused) and outcome.code == "too_many_pixels"
    assert "too many pixels" in outcome.reason


def test_a_runaway_child_is_killed_at_the_time_limit(upload):
    started = time.monotonic()
    outcome = IsolatedProcessor(0.5, work=_sleep_forever).process(upload(b"x"))
    assert isinstance(outcome, Refused) and outcome.code == "processing_timeout"
    assert time.monotonic() - started < 5
    assert multiprocessing.active_children() == []


def test_a_child_that_dies_is_a_refusal_not_a_crash(upload):
    outcome = IsolatedProcessor(30, work=_die).process(upload(b"x"))
    assert isinstance(outcome, Refused) and outcome.code == "processing_failed"


def test_an_unexpected_error_is_reported_as_a_failure(upload):
    outcome = IsolatedProcessor(30, work=_bug).process(upload(b"x"))
    assert outcome == Refused("processing_failed", "This file could not be processed.")


def test_stopping_kills_running_children_without_refusing_the_upload(upload):
    processor = IsolatedProcessor(60, work=_sleep_forever)
    path = upload(b"x")
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(processor.process, path)
        time.sleep(0.5)
        started = time.monotonic()
        processor.stop()
        with pytest.raises(ProcessingInterrupted):
            running.result(timeout=10)
        assert time.monotonic() - started < 5
    with pytest.raises(ProcessingInterrupted):
        processor.process(path)

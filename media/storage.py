"""The media bucket as the worker uses it: fetch uploads, store ciphertext, delete by story."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from media.layout import story_prefix

__all__ = ["StoredObject", "UploadTooLarge", "MediaObjects", "STORAGE_ERRORS", "is_missing"]

CHUNK = 1024 * 1024
DELETE_BATCH = 1000  # the most one DeleteObjects request takes
BLOB_CONTENT_TYPE = "application/octet-stream"  # ciphertext: no viewer can render it as is


def is_missing(error: ClientError) -> bool:
    """S3 says the object (or the bucket) is not there."""
    return error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


STORAGE_ERRORS: tuple[type[BaseException], ...] = (ClientError, BotoCoreError, OSError)


@dataclass(frozen=True)
class StoredObject:
    """One listed object."""

    key: str
    last_modified: datetime
    size: int


class UploadTooLarge(Exception):
    """The upload is bigger than anything the pipeline accepts; it is not downloaded."""

    def __init__(self, size: int):
        super().__init__(f"upload of {size} bytes")
        self.size = size


class MediaObjects:
    """S3 operations on one bucket, with the client the worker already holds."""

    def __init__(self, s3: Any, bucket: str):
        self.s3 = s3
        self.bucket = bucket

    def fetch(self, key: str, destination: Path, max_bytes: int) -> bool:
        """Download an upload to a file; False when it is not there (yet)."""
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if is_missing(error):
                return False
            raise
        body = response["Body"]
        try:
            if response["ContentLength"] > max_bytes:
                raise UploadTooLarge(response["ContentLength"])
            _copy_capped(body, destination, max_bytes)
        finally:
            body.close()
        return True

    def put_blob(self, key: str, blob: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=blob,
                           ContentType=BLOB_CONTENT_TYPE)

    def get(self, key: str) -> bytes | None:
        """An object's bytes, or None when it does not exist."""
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as error:
            if is_missing(error):
                return None
            raise

    def listing(self, prefix: str) -> Iterator[StoredObject]:
        """Every object under a prefix, page by page."""
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", ()):
                yield StoredObject(item["Key"], item["LastModified"], item["Size"])

    def delete(self, keys: Iterable[str]) -> list[str]:
        """Delete these objects (missing ones are fine); returns the keys asked for."""
        keys = list(keys)
        for start in range(0, len(keys), DELETE_BATCH):
            batch = [{"Key": key} for key in keys[start:start + DELETE_BATCH]]
            answer = self.s3.delete_objects(Bucket=self.bucket,
                                            Delete={"Objects": batch, "Quiet": True})
            if answer.get("Errors"):
                raise OSError(f"objects not deleted: {answer['Errors'][:3]}")
        return keys

    def delete_story(self, story_id: str) -> list[str]:
        """Every object of one story's media; returns what was there."""
        return self.delete(item.key for item in self.listing(story_prefix(story_id)))


def _copy_capped(body: Any, destination: Path, max_bytes: int) -> None:
    """Stream to disk, refusing to write more than the cap even if the length header lied."""
    written = 0
    with destination.open("wb") as out:
        for chunk in body.iter_chunks(CHUNK):
            written += len(chunk)
            if written > max_bytes:
                raise UploadTooLarge(written)
            out.write(chunk)

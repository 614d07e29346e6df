"""Short-lived presigned URLs: uploads by PUT, renditions by GET, nothing that lasts.

The URLs carry their own expiry (SigV4 query signing), so a leaked URL stops working within
its lifetime; renditions are ciphertext in any case. The gateway passes
`settings.upload_url_seconds` and `settings.media_url_seconds`; a client built with the
public endpoint (`core.clients.s3_client(settings, settings.s3_public_endpoint)`) signs
URLs clients can reach.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_TTL_SECONDS", "presigned_get", "presigned_put"]

MAX_TTL_SECONDS = 7 * 86_400  # the longest SigV4 allows


def _checked_ttl(ttl_seconds: int) -> int:
    """A lifetime S3 accepts; zero or negative would mint URLs that never work."""
    if not 1 <= ttl_seconds <= MAX_TTL_SECONDS:
        raise ValueError(f"URL lifetime must be 1..{MAX_TTL_SECONDS} s, got {ttl_seconds}")
    return int(ttl_seconds)


def presigned_get(s3: Any, bucket: str, key: str, ttl_seconds: int) -> str:
    """A URL that downloads one object for `ttl_seconds`."""
    return s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=_checked_ttl(ttl_seconds)
    )


def presigned_put(s3: Any, bucket: str, key: str, ttl_seconds: int,
                  content_type: str | None = None) -> str:
    """A URL that uploads one object for `ttl_seconds` (with that Content-Type, if given)."""
    params = {"Bucket": bucket, "Key": key}
    if content_type is not None:
        params["ContentType"] = content_type
    return s3.generate_presigned_url("put_object", Params=params,
                                     ExpiresIn=_checked_ttl(ttl_seconds))

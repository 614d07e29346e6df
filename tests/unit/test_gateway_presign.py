"""The local SigV4 presigner signs exactly as boto3 does."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from core.clients import s3_client
from core.settings import Settings
from gateway.presign import Presigner

SETTINGS = Settings(environment="test", s3_endpoint="http://127.0.0.1:9000")


@pytest.mark.parametrize("method", ["GET", "PUT"])
@pytest.mark.parametrize("key", ["media/3f1c/full.jpg", "uploads/ada.b@x:y/ä é~+1", "a//b"])
def test_urls_match_boto3(method, key):
    client = s3_client(SETTINGS)
    action = {"GET": "get_object", "PUT": "put_object"}[method]
    expected = client.generate_presigned_url(
        action, Params={"Bucket": SETTINGS.s3_bucket, "Key": key}, ExpiresIn=300)
    signed_at = parse_qs(urlsplit(expected).query)["X-Amz-Date"][0]
    moment = datetime.strptime(signed_at + "+0000", "%Y%m%dT%H%M%SZ%z")
    presigner = Presigner(SETTINGS.s3_endpoint, SETTINGS.s3_region, SETTINGS.s3_bucket,
                          SETTINGS.s3_access_key, SETTINGS.s3_secret_key.get_secret_value())
    assert presigner.url(method, key, 300, now=moment) == expected

"""The local SigV4 presigner signs exactly as boto3 does."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from core.clients import s3_client
from core.settings import Settings
from gateway.presign import Presigner

SETTINGS = Settings(environment="test", s3_endpoint="http://127.0.0.1:9000")
# Temporary credentials: the token is signed into the URL, or S3 refuses it.
WITH_TOKEN = SETTINGS.model_copy(update={"s3_session_token": SecretStr("FwoGZXIvYXdzE/a+b=")})


@pytest.mark.parametrize("settings", [SETTINGS, WITH_TOKEN], ids=["keys", "session-token"])
@pytest.mark.parametrize("method", ["GET", "PUT"])
@pytest.mark.parametrize("key", ["media/3f1c/full.jpg", "uploads/ada.b@x:y/ä é~+1", "a//b"])
def test_urls_match_boto3(settings, method, key):
    client = s3_client(settings)
    action = {"GET": "get_object", "PUT": "put_object"}[method]
    expected = client.generate_presigned_url(
        action, Params={"Bucket": settings.s3_bucket, "Key": key}, ExpiresIn=300)
    signed_at = parse_qs(urlsplit(expected).query)["X-Amz-Date"][0]
    moment = datetime.strptime(signed_at + "+0000", "%Y%m%dT%H%M%SZ%z")
    presigner = Presigner(settings.s3_endpoint, settings.s3_region, settings.s3_bucket,
                          settings.s3_access_key, settings.s3_secret_key.get_secret_value(),
                          settings.s3_session_token.get_secret_value())
    assert presigner.url(method, key, 300, now=moment) == expected

"""S3Proxy: the S3 API over a local folder, from the jars of infra/s3proxy/pom.xml."""

from __future__ import annotations

from urllib.parse import urlsplit

from rich.console import Console

from core.settings import Settings
from infra.stack.files import fetch_jars, render
from infra.stack.processes import java
from infra.stack.service import Service, count
from infra.stack.state import Dirs

__all__ = ["SERVICE", "endpoint", "command", "probe"]

HEAP = ("-Xms32m", "-Xmx256m")


def endpoint(settings: Settings) -> tuple[str, int]:
    """Host and port of the S3 endpoint URL, the scheme's port when it names none."""
    url = urlsplit(settings.s3_endpoint)
    return url.hostname or "127.0.0.1", url.port or (443 if url.scheme == "https" else 80)


def command(settings: Settings, dirs: Dirs, console: Console) -> list[str]:
    """S3Proxy's command line, its jars fetched and its properties (with the keys) rendered."""
    lib = fetch_jars("s3proxy", dirs, console)
    host, port = endpoint(settings)
    properties = render(
        "s3proxy", "s3proxy.properties", dirs.conf / "s3proxy.properties",
        host=host, port=port, region=settings.s3_region, data_dir=dirs.data,
        access_key=settings.s3_access_key, secret_key=settings.s3_secret_key.get_secret_value(),
    )  # fmt: skip
    properties.chmod(0o600)  # holds the secret key
    logback = render("s3proxy", "logback.xml", dirs.conf / "logback.xml", log_file=dirs.logs / "s3proxy.log")
    return [
        java("s3proxy"), *HEAP, "-XX:+UseSerialGC", "-XX:+ExitOnOutOfMemoryError",
        f"-Dlogback.configurationFile={logback.as_uri()}",
        "-cp", str(lib / "*"), "org.gaul.s3proxy.Main", "--properties", str(properties),
    ]  # fmt: skip


def probe(settings: Settings) -> str:
    """Ready once a signed ListBuckets answers; reports how many buckets there are."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key,
        aws_secret_access_key=settings.s3_secret_key.get_secret_value(),
        aws_session_token=settings.s3_session_token.get_secret_value() or None,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=2,
            read_timeout=5,
            retries={"max_attempts": 1},  # the caller polls; no retries hidden in here
        ),
    )
    buckets = client.list_buckets().get("Buckets", [])
    return count(len(buckets), "bucket")


SERVICE = Service("s3proxy", endpoint, command, probe, "s3proxy.log", 120.0)

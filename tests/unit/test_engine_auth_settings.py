"""What each client is given from the authentication and TLS settings, and which defaults are
refused outside development."""

from __future__ import annotations

import re
import ssl
from pathlib import Path

import pytest
from cassandra.auth import PlainTextAuthProvider
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from pydantic import SecretStr

from core.clients import (
    cql_security,
    kafka_config,
    redis_client,
    redis_clustered,
    redis_options,
    redis_plain_url,
)
from core.settings import DEFAULT_CQL_PASSWORD, REPO_ROOT, Settings
from infra.stack.tls import ensure_tls
from streams.broker import broker_credentials

SECRETS = {"jwt_secret": SecretStr("a real one"), "kafka_password": SecretStr("k-real"),
           "redis_password": SecretStr("r-real"), "pseudonym_secret": SecretStr("p-real"),
           "s3_access_key": "AKIA-REAL", "s3_secret_key": SecretStr("s3-real"),
           "cql_username": "scylla", "cql_password": SecretStr("c-real")}


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(ensure_tls(tmp_path_factory.mktemp("tls")).ca_cert)


def test_kafka_clients_authenticate_with_scram_by_default() -> None:
    config = kafka_config(Settings(environment="test"))
    assert config["security.protocol"] == "SASL_PLAINTEXT"
    assert config["sasl.mechanism"] == "SCRAM-SHA-512"
    assert (config["sasl.username"], config["sasl.password"]) == (
        "stories", "development-only-kafka-password")
    assert "ssl.ca.location" not in config


def test_plaintext_kafka_gets_no_credentials() -> None:
    config = kafka_config(Settings(environment="test", kafka_security_protocol="PLAINTEXT"))
    assert config == {"bootstrap.servers": "127.0.0.1:9092", "security.protocol": "PLAINTEXT"}


def test_sasl_ssl_kafka_trusts_the_ca_file(ca_file: str) -> None:
    settings = Settings(environment="test", kafka_security_protocol="SASL_SSL",
                        kafka_sasl_mechanism="SCRAM-SHA-256", kafka_ssl_ca_file=ca_file)
    config = kafka_config(settings)
    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.mechanism"] == "SCRAM-SHA-256"
    assert config["ssl.ca.location"] == ca_file


def test_a_ca_file_that_is_missing_is_named_by_its_setting() -> None:
    settings = Settings(environment="test", kafka_security_protocol="SSL",
                        kafka_ssl_ca_file="/no/such/ca.pem")
    with pytest.raises(ValueError, match="STORIES_KAFKA_SSL_CA_FILE='/no/such/ca.pem' names no file"):
        kafka_config(settings)


def test_a_relative_ca_file_lies_in_the_repository() -> None:
    settings = Settings(environment="test", redis_ssl_ca_file=".state/cluster/tls/ca.pem")
    assert Path(settings.redis_ssl_ca_file) == REPO_ROOT / ".state/cluster/tls/ca.pem"


@pytest.mark.parametrize(("protocol", "expected"), [
    ("SASL_PLAINTEXT", "SASL_PLAINTEXT"), ("SASL_SSL", "SASL_SSL"), ("SSL", "SSL"),
    ("PLAINTEXT", "PLAINTEXT"),
])
def test_faust_reaches_kafka_as_the_confluent_clients_do(protocol: str, expected: str,
                                                         ca_file: str) -> None:
    settings = Settings(environment="test", kafka_security_protocol=protocol,
                        kafka_ssl_ca_file=ca_file)
    # What faust hands to aiokafka's consumer and producer.
    auth = credentials_to_aiokafka_auth(broker_credentials(settings))
    assert auth["security_protocol"] == expected
    if protocol.startswith("SASL_"):
        assert auth["sasl_mechanism"] == "SCRAM-SHA-512"
        assert auth["sasl_plain_username"] == "stories"
        assert auth["sasl_plain_password"] == "development-only-kafka-password"
    if protocol.endswith("SSL"):
        context = auth["ssl_context"]
        assert isinstance(context, ssl.SSLContext)
        assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
        assert context.get_ca_certs()  # the CA file's certificate is loaded
    else:
        assert auth.get("ssl_context") is None


def test_redis_clients_send_the_acl_user_unless_the_url_has_credentials() -> None:
    assert redis_options(Settings(environment="test")) == {
        "username": "stories", "password": "development-only-redis-password"}
    own = Settings(environment="test", redis_url="redis://ops:s3cret@10.0.0.1:6379/0")
    assert redis_options(own) == {}
    connection = redis_client(own).connection_pool.connection_kwargs
    assert (connection["username"], connection["password"]) == ("ops", "s3cret")


def test_an_empty_redis_password_sends_no_auth() -> None:
    assert redis_options(Settings(environment="test", redis_password=SecretStr(""))) == {}


def test_a_tls_redis_url_trusts_the_ca_file(ca_file: str) -> None:
    settings = Settings(environment="test", redis_url="rediss://10.0.0.1:6380/0",
                        redis_ssl_ca_file=ca_file)
    assert redis_options(settings)["ssl_ca_certs"] == ca_file
    plain = settings.model_copy(update={"redis_url": "redis://10.0.0.1:6379/0"})
    assert "ssl_ca_certs" not in redis_options(plain)  # a plain connection takes no TLS options


def test_a_tls_cluster_seed_url() -> None:
    settings = Settings(environment="test", redis_url="rediss+cluster://10.0.0.1:7001")
    assert redis_clustered(settings)
    assert redis_plain_url(settings.redis_url) == "rediss://10.0.0.1:7001"


def test_cql_authenticates_and_encrypts_only_when_configured(ca_file: str) -> None:
    assert cql_security(Settings(environment="test")) == {}
    settings = Settings(environment="test", cql_username="scylla", cql_password=SecretStr("pw"),
                        cql_ssl_ca_file=ca_file)
    security = cql_security(settings)
    provider = security["auth_provider"]
    assert isinstance(provider, PlainTextAuthProvider)
    assert (provider.username, provider.password) == ("scylla", "pw")
    assert security["ssl_context"].check_hostname  # each node's address is verified


PUBLISHED = {"cql_password": SecretStr(DEFAULT_CQL_PASSWORD)}  # infra/cluster.env's, no default


@pytest.mark.parametrize(("setting", "variable"), [
    ("jwt_secret", "STORIES_JWT_SECRET"), ("kafka_password", "STORIES_KAFKA_PASSWORD"),
    ("redis_password", "STORIES_REDIS_PASSWORD"), ("pseudonym_secret", "STORIES_PSEUDONYM_SECRET"),
    ("s3_access_key", "STORIES_S3_ACCESS_KEY"), ("s3_secret_key", "STORIES_S3_SECRET_KEY"),
    ("cql_password", "STORIES_CQL_PASSWORD"),
])
def test_each_development_default_is_refused_in_production(setting: str, variable: str) -> None:
    chosen = {name: value for name, value in SECRETS.items() if name != setting}
    chosen.update({name: value for name, value in PUBLISHED.items() if name == setting})
    with pytest.raises(ValueError, match=f"{variable} must be set") as refused:
        Settings(environment="production", **chosen)
    assert str(refused.value).count("must be set") == 1  # only the setting left at its default
    for environment in ("development", "test"):
        Settings(environment=environment, **chosen)


def test_one_refusal_names_every_default_left() -> None:
    with pytest.raises(ValueError) as refused:
        Settings(environment="production", cql_username="scylla", **PUBLISHED)
    named = set(re.findall(r"(STORIES_[A-Z0-9_]+) must be set", str(refused.value)))
    assert named == {"STORIES_JWT_SECRET", "STORIES_KAFKA_PASSWORD", "STORIES_REDIS_PASSWORD",
                     "STORIES_PSEUDONYM_SECRET", "STORIES_S3_ACCESS_KEY", "STORIES_S3_SECRET_KEY",
                     "STORIES_CQL_PASSWORD"}


def test_the_published_cql_password_is_the_local_clusters() -> None:
    """The refusal follows infra/cluster.env: it is the one value this repository publishes."""
    lines = (REPO_ROOT / "infra" / "cluster.env").read_text().splitlines()
    assert f"STORIES_CQL_PASSWORD={DEFAULT_CQL_PASSWORD}" in lines


def test_the_local_settings_files_run_in_development(monkeypatch: pytest.MonkeyPatch) -> None:
    """infra/compose.env and infra/cluster.env keep their published secrets: they set no
    environment, so the settings they give are development's and accepted."""
    monkeypatch.delenv("STORIES_ENVIRONMENT", raising=False)
    for name in ("compose.env", "cluster.env"):
        assert "STORIES_ENVIRONMENT" not in (REPO_ROOT / "infra" / name).read_text()
        assert Settings(_env_file=REPO_ROOT / "infra" / name).environment == "development"


def test_production_accepts_chosen_secrets_and_an_unused_kafka_default() -> None:
    Settings(environment="production", **SECRETS)
    unused = {**SECRETS, "kafka_password": SecretStr("development-only-kafka-password")}
    Settings(environment="production", kafka_security_protocol="SSL", **unused)
    Settings(environment="production", **{**SECRETS, "redis_password": SecretStr("")})


def test_the_readme_lists_every_setting() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    listed = set(re.findall(r"`(STORIES_[A-Z0-9_]+)`", readme))
    missing = {f"STORIES_{name.upper()}" for name in Settings.model_fields} - listed
    assert missing == set()


def test_the_compose_file_turns_client_authentication_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """infra/compose.yaml's Kafka and Redis do not authenticate; its settings file says so."""
    monkeypatch.setenv("STORIES_ENV_FILE", "infra/compose.env")
    for name in ("STORIES_KAFKA_SECURITY_PROTOCOL", "STORIES_REDIS_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(environment="test")
    assert "sasl.username" not in kafka_config(settings)
    assert redis_options(settings) == {}

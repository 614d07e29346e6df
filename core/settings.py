"""One settings object per process, read from `STORIES_*` environment variables."""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

__all__ = ["Settings", "get_settings", "replication_map", "env_file", "cluster_settings",
           "DEFAULT_JWT_SECRET", "DEFAULT_KAFKA_PASSWORD", "DEFAULT_REDIS_PASSWORD",
           "DEFAULT_PSEUDONYM_SECRET", "DEFAULT_S3_ACCESS_KEY", "DEFAULT_S3_SECRET_KEY",
           "DEFAULT_CQL_PASSWORD", "REPO_ROOT", "ENV_FILE_VARIABLE", "CLUSTER_ENV_FILE",
           "KafkaSecurityProtocol", "LOG_LEVELS", "LogLevel", "settings_problems"]

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JWT_SECRET = "development-only-secret-change-me"
# The local stack's engine passwords: known to anyone who reads this file, so refused elsewhere.
DEFAULT_KAFKA_PASSWORD = "development-only-kafka-password"
DEFAULT_REDIS_PASSWORD = "development-only-redis-password"
DEFAULT_PSEUDONYM_SECRET = "development-only-pseudonym-key"
# The local S3 server's credentials (S3Proxy of `stories up`, MinIO of infra/compose.yaml).
DEFAULT_S3_ACCESS_KEY = "stories"
DEFAULT_S3_SECRET_KEY = "stories-secret"
# Not a default (the CQL user is empty by default) but published too: infra/cluster.env's.
DEFAULT_CQL_PASSWORD = "development-only-cql-password"
KafkaSecurityProtocol = Literal["PLAINTEXT", "SASL_PLAINTEXT", "SSL", "SASL_SSL"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LOG_LEVELS: tuple[str, ...] = get_args(LogLevel)
# A file of `STORIES_*=value` lines read under the environment: the environment still wins.
ENV_FILE_VARIABLE = "STORIES_ENV_FILE"
# The local cluster's addresses, replication and credentials (`stories up --cluster`).
CLUSTER_ENV_FILE = REPO_ROOT / "infra" / "cluster.env"


class Settings(BaseSettings):
    """Every tunable of the project; README's configuration table lists them all."""

    model_config = SettingsConfigDict(env_prefix="STORIES_", extra="ignore")

    environment: str = Field("development", description="development, test or production")
    state_dir: Path = Field(REPO_ROOT / ".state", description="Data and logs of the local stack")
    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines of every process: text (a terminal) or json (one object a line)"
    )
    log_level: LogLevel = Field("INFO", description="Least severe level logged: " + ", ".join(LOG_LEVELS))
    access_log: bool = Field(True, description="The gateway logs one line per request")

    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers")
    kafka_controller_port: int = Field(9093, description="KRaft controller port (local stack)")
    kafka_security_protocol: KafkaSecurityProtocol = Field(
        "SASL_PLAINTEXT", description="How clients reach Kafka: SASL_* authenticate, *SSL encrypt"
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] = Field(
        "SCRAM-SHA-512", description="SASL mechanism with a SASL_* protocol"
    )
    kafka_username: str = Field("stories", description="SASL user of every Kafka client")
    kafka_password: SecretStr = Field(
        SecretStr(DEFAULT_KAFKA_PASSWORD), description="SASL password of every Kafka client"
    )
    kafka_ssl_ca_file: str = Field(
        "", description="PEM CA certificates that sign the brokers' (empty: the system's)"
    )
    topic_prefix: str = Field("stories", description="Prefix of every topic name")
    kafka_replication_factor: int = Field(
        1, ge=1, description="Replicas of every topic created, faust's own included (cluster: 3)"
    )
    kafka_min_insync_replicas: int = Field(
        1, ge=1, description="min.insync.replicas of the topics created (cluster: 2)"
    )

    cql_hosts: str = Field("127.0.0.1", description="Comma-separated CQL contact points")
    cql_port: int = Field(9042, description="CQL native transport port")
    cql_storage_port: int = Field(7000, description="Inter-node port of the CQL server (local stack)")
    cql_keyspace: str = Field("stories", description="Keyspace of the read models")
    cql_replication_strategy: Literal["SimpleStrategy", "NetworkTopologyStrategy"] = Field(
        "SimpleStrategy", description="Replication strategy of the keyspaces created"
    )
    cql_replication_factor: int = Field(1, ge=1, description="Replicas of the keyspaces created")
    cql_datacenter: str = Field(
        "",
        description="Local datacenter: routing preference, and the NetworkTopologyStrategy key"
        " (empty: the datacenter of the first contact point)",
    )
    cql_replication: str = Field(
        "",
        description="Raw replication map of the keyspaces created; when set it wins over the"
        " strategy, factor and datacenter settings (empty: built from them)",
    )
    cql_username: str = Field("", description="CQL user (empty: no authentication)")
    cql_password: SecretStr = Field(SecretStr(""), description="Password of the CQL user")
    cql_ssl_ca_file: str = Field(
        "", description="PEM CA certificates of the CQL nodes; TLS is on when set"
    )
    cql_consistency: Literal[
        "ANY", "ONE", "TWO", "THREE", "QUORUM", "ALL", "LOCAL_QUORUM", "EACH_QUORUM", "LOCAL_ONE"
    ] = Field("LOCAL_QUORUM", description="Consistency level of every CQL read and write")
    cql_serial_consistency: Literal["SERIAL", "LOCAL_SERIAL"] = Field(
        "LOCAL_SERIAL", description="Serial consistency of lightweight transactions"
    )
    cql_batch_rows: int = Field(
        100, ge=1,
        description="Most rows of one unlogged batch of viewer rows, reactions, answers, follows"
        " (partitions owned by the same node)",
    )
    cql_batch_partitions: int = Field(
        50, ge=1, description="Most partitions of one such batch"
    )
    cql_batch_value_bytes: int = Field(
        20_000, ge=1,
        description="Most bytes of bound values in one such batch of several partitions (the"
        " server counts about 1.4 times as many against its batch size thresholds)",
    )
    cql_compression: Literal["none", "lz4"] = Field(
        "none", description="CQL protocol compression (none: loopback or a fast local network)"
    )

    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="Redis URL (`rediss://`: TLS); the `redis+cluster://` scheme"
        " (`rediss+cluster://`) names a seed node of a Redis Cluster",
    )
    redis_username: str = Field(
        "stories", description="Redis ACL user, unless the URL carries credentials"
    )
    redis_password: SecretStr = Field(
        SecretStr(DEFAULT_REDIS_PASSWORD),
        description="Password of the Redis user (empty: no AUTH), unless the URL carries one",
    )
    redis_ssl_ca_file: str = Field(
        "", description="PEM CA certificates of a `rediss://` Redis (empty: the system's)"
    )
    redis_cluster: bool = Field(
        False, description="Talk to Redis as a cluster (same as a `redis+cluster://` URL)"
    )
    redis_cluster_port: int = Field(
        7379, description="Port of the one-node Redis Cluster the local stack starts for checks"
    )
    redis_wait_replicas: int = Field(
        0, ge=0,
        description="Replicas of each Redis primary that must acknowledge the worker's writes"
        " before a batch counts as written (0: no wait)",
    )
    redis_wait_timeout_ms: int = Field(
        1000, gt=0, description="How long a flush waits for those replicas (ms)"
    )

    s3_endpoint: str = Field("http://127.0.0.1:9000", description="S3-compatible endpoint")
    s3_region: str = Field("us-east-1", description="S3 region used for signing")
    s3_bucket: str = Field("stories-media", description="Bucket for uploads and renditions")
    s3_access_key: str = Field(DEFAULT_S3_ACCESS_KEY, description="S3 access key")
    s3_secret_key: SecretStr = Field(SecretStr(DEFAULT_S3_SECRET_KEY), description="S3 secret key")
    s3_session_token: SecretStr = Field(
        SecretStr(""), description="Session token of temporary S3 credentials (empty: none)"
    )

    fanout_threshold: int = Field(
        10_000, description="Authors with more followers are merged into trays at read time"
    )
    insights_days: int = Field(30, description="Days an author can read insights after expiry")
    worker_batch_size: int = Field(2000, description="Events the worker folds per batch")
    worker_metrics_port: int = Field(9108, description="Worker's Prometheus port (0: none)")
    worker_metrics_host: str = Field(
        "127.0.0.1",
        description="Address the worker serves /metrics, /healthz and /readyz on (0.0.0.0 in a container)",
    )
    worker_processes: int = Field(
        1, ge=1, description="Processes `stories worker` runs in one consumer group (one per core)"
    )
    expiry_interval: float = Field(
        0.5, gt=0,
        description="Longest wait of the expiry timer between two looks at its indexes (it wakes "
        "at the next expiry instant when that comes sooner)",
    )
    pseudonym_secret: SecretStr = Field(
        SecretStr(DEFAULT_PSEUDONYM_SECRET),
        description="Key of the hashes that dedupe counters without keeping identities",
    )

    media_upload_deadline: float = Field(
        600.0, description="Seconds after posting within which a story's upload must arrive"
    )
    media_poll_interval: float = Field(
        1.0, description="Seconds between runs of the media job timer (waiting uploads, releases)"
    )
    media_process_timeout: float = Field(
        120.0, description="Wall-clock seconds one upload may take to process before it is refused"
    )
    media_concurrency: int = Field(2, description="Uploads one worker processes at the same time")
    media_reconcile_interval: float = Field(
        3600.0, description="Seconds between media reconciliation runs in the worker (0: never)"
    )
    media_reconcile_grace: float = Field(
        600.0, description="Extra age before reconciliation reclaims an object nothing refers to"
    )

    gateway_host: str = Field("127.0.0.1", description="Gateway bind address")
    gateway_port: int = Field(8000, description="Gateway port")
    jwt_secret: SecretStr = Field(SecretStr(DEFAULT_JWT_SECRET), description="HS256 secret")
    jwt_algorithm: str = Field("HS256", description="JWT signing algorithm")
    jwt_jwks_url: str | None = Field(
        None, description="JWKS URL of the identity provider: tokens are then verified with its "
                          "public keys (RS256, ES256, EdDSA) instead of the shared secret")
    jwt_issuer: str | None = Field(None, description="Required `iss` of tokens (JWKS mode)")
    jwt_audience: str | None = Field(None, description="Required `aud` of tokens (JWKS mode)")
    jwt_max_lifetime_seconds: int = Field(
        30 * 86_400, gt=0, description="Longest lifetime (`exp` - `iat`) of a token the gateway "
                                       "accepts; it remembers erased accounts that long, to "
                                       "refuse their tokens")
    jwt_jwks_algorithms: str = Field(
        "RS256,ES256,EdDSA", description="Signing algorithms accepted in JWKS mode, comma-separated")
    jwt_jwks_cache_seconds: float = Field(
        300.0, ge=0, description="How long fetched keys are trusted before the next unknown token "
                                 "fetches them again")
    jwt_jwks_min_refresh_seconds: float = Field(
        10.0, ge=0, description="Least time between two fetches of the JWKS (tokens naming "
                                "unknown keys cannot make the gateway hammer the provider)")
    gateway_workers: int = Field(1, description="Gateway worker processes")
    gateway_metrics_port: int | None = Field(
        None, ge=1, le=65535,
        description="Port of the gateway's /metrics, apart from the API (empty: /metrics on the"
                    " API port)")
    gateway_metrics_host: str = Field(
        "127.0.0.1",
        description="Address of the gateway's metrics port (0.0.0.0 in a container)")
    gateway_max_body_bytes: int = Field(65_536, description="Largest request body accepted")
    gateway_write_limit: int = Field(
        60, description="Posts, deletions, follows, highlight edits per user and window"
    )
    gateway_engagement_limit: int = Field(
        600, description="Views, reactions, replies, sticker answers per user and window"
    )
    gateway_rate_window_seconds: int = Field(60, description="Length of a rate-limit window")
    gateway_emit_timeout: float = Field(
        5.0, description="Seconds a command waits for the broker before answering 503"
    )
    gateway_idempotency_seconds: int = Field(
        86_400, description="How long an Idempotency-Key keeps answering with the same story"
    )
    gateway_refresh_seconds: float = Field(
        2.0, description="How often the gateway re-reads which read-model version is live"
    )
    upload_url_seconds: int = Field(900, description="Lifetime of a presigned upload URL")
    media_url_seconds: int = Field(300, description="Lifetime of a presigned media URL")
    s3_public_endpoint: str = Field(
        "", description="S3 endpoint as clients reach it, in presigned URLs (empty: s3_endpoint)"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then a settings file: the one passed as `_env_file`,
        else the one `STORIES_ENV_FILE` names (read when the settings are built, so a command can
        point every later read at another stack)."""
        if isinstance(dotenv_settings, DotEnvSettingsSource) and dotenv_settings.env_file:
            return init_settings, env_settings, dotenv_settings
        path = env_file()
        if path is None:
            return init_settings, env_settings
        return init_settings, env_settings, DotEnvSettingsSource(settings_cls, env_file=path)

    @field_validator("log_level", mode="before")
    @classmethod
    def _known_log_level(cls, value: object) -> str:
        """A level name in any case (`debug` is `DEBUG`); anything else names the choices."""
        level = str(value).strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"STORIES_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, "
                             f"not {value!r}")
        return level

    @property
    def cql_contact_points(self) -> list[str]:
        return [host.strip() for host in self.cql_hosts.split(",") if host.strip()]

    @model_validator(mode="after")
    def _state_dir_from_repository(self) -> Settings:
        """A relative state folder (as infra/cluster.env names one) lies in the repository."""
        if not self.state_dir.is_absolute():
            self.state_dir = REPO_ROOT / self.state_dir
        return self

    @model_validator(mode="after")
    def _replication(self) -> Settings:
        """Kafka's replica counts agree; `cql_replication` holds the map actually used."""
        if self.kafka_min_insync_replicas > self.kafka_replication_factor:
            raise ValueError(
                "STORIES_KAFKA_MIN_INSYNC_REPLICAS cannot exceed STORIES_KAFKA_REPLICATION_FACTOR"
            )
        if self.cql_datacenter and not _DATACENTER.fullmatch(self.cql_datacenter):
            raise ValueError(f"STORIES_CQL_DATACENTER is not a datacenter name: {self.cql_datacenter!r}")
        if not self.cql_replication.strip():
            self.cql_replication = replication_map(
                self.cql_replication_strategy, self.cql_replication_factor, self.cql_datacenter
            )
        return self

    @model_validator(mode="after")
    def _ca_files_from_repository(self) -> Settings:
        """Relative CA files (as infra/cluster.env names them) lie in the repository too."""
        for name in ("kafka_ssl_ca_file", "redis_ssl_ca_file", "cql_ssl_ca_file"):
            value = getattr(self, name)
            if value and not Path(value).is_absolute():
                setattr(self, name, str(REPO_ROOT / value))
        return self

    @field_validator("jwt_jwks_url", "jwt_issuer", "jwt_audience", "gateway_metrics_port",
                     mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _jwks_names_its_tokens(self) -> Settings:
        """Tokens of an identity provider are for this product only when issuer and audience
        say so: JWKS mode requires both."""
        if self.jwt_jwks_url is None:
            return self
        missing = [name for name in ("jwt_issuer", "jwt_audience") if not getattr(self, name)]
        if missing:
            named = " and ".join(f"STORIES_{name.upper()}" for name in missing)
            raise ValueError(f"STORIES_JWT_JWKS_URL needs {named} too")
        if not self.jwks_algorithms:
            raise ValueError("STORIES_JWT_JWKS_ALGORITHMS names no algorithm")
        return self

    @property
    def jwks_algorithms(self) -> list[str]:
        return [name.strip() for name in self.jwt_jwks_algorithms.split(",") if name.strip()]

    @model_validator(mode="after")
    def _refuse_default_secret_outside_development(self) -> Settings:
        """The defaults are public: outside development each one in use must be replaced, and
        one error names every such setting, so a deployment is fixed in one go."""
        if self.environment in ("development", "test"):
            return self
        refused = [f"{variable} must be set{hint}" for variable, hint in self._public_secrets()]
        if refused:
            raise ValueError("; ".join(refused) + ": values published in this repository are"
                             " refused outside development")
        return self

    def _public_secrets(self) -> list[tuple[str, str]]:
        """(variable, hint) of each secret in use that still has the value this repository
        publishes."""
        kafka_sasl = self.kafka_security_protocol.startswith("SASL_")
        checks = [
            ("STORIES_JWT_SECRET", "", self.jwt_secret,
             DEFAULT_JWT_SECRET if self.jwt_jwks_url is None else None),
            ("STORIES_PSEUDONYM_SECRET", "", self.pseudonym_secret, DEFAULT_PSEUDONYM_SECRET),
            ("STORIES_KAFKA_PASSWORD", "", self.kafka_password,
             DEFAULT_KAFKA_PASSWORD if kafka_sasl else None),
            ("STORIES_REDIS_PASSWORD", " (empty for a Redis without authentication)",
             self.redis_password, DEFAULT_REDIS_PASSWORD),
            ("STORIES_CQL_PASSWORD", "", self.cql_password,
             DEFAULT_CQL_PASSWORD if self.cql_username else None),
            ("STORIES_S3_ACCESS_KEY", "", SecretStr(self.s3_access_key), DEFAULT_S3_ACCESS_KEY),
            ("STORIES_S3_SECRET_KEY", "", self.s3_secret_key, DEFAULT_S3_SECRET_KEY),
        ]
        return [(variable, hint) for variable, hint, value, public in checks
                if value.get_secret_value() == public]


_DATACENTER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def replication_map(strategy: str, factor: int, datacenter: str = "") -> str:
    """The CQL replication map of a strategy: one factor for the whole cluster (SimpleStrategy)
    or for the named datacenter (NetworkTopologyStrategy, which needs one)."""
    if strategy == "SimpleStrategy":
        return f"{{'class': 'SimpleStrategy', 'replication_factor': {factor}}}"
    if strategy == "NetworkTopologyStrategy":
        if not datacenter:
            raise ValueError(
                "STORIES_CQL_DATACENTER must name the datacenter for NetworkTopologyStrategy"
            )
        return f"{{'class': 'NetworkTopologyStrategy', '{datacenter}': {factor}}}"
    raise ValueError(f"unknown replication strategy {strategy!r}")


def env_file() -> Path | None:
    """The settings file `STORIES_ENV_FILE` names (relative paths from the working directory,
    then from the repository), or None; a name that is no file is refused."""
    named = os.environ.get(ENV_FILE_VARIABLE, "").strip()
    if not named:
        return None
    for candidate in (Path(named), REPO_ROOT / named):
        if candidate.is_file():
            return candidate.resolve()
    raise ValueError(f"{ENV_FILE_VARIABLE}={named!r} names no file")


def settings_problems(error: ValidationError) -> list[str]:
    """One line per refused setting, named as the environment variable that holds it (a
    secret's value is never shown)."""
    lines = []
    for problem in error.errors(include_url=False):
        name = "_".join(str(part) for part in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        variable = f"STORIES_{name.upper()}"
        if not name or variable in message:  # the message names the setting itself
            lines.append(message)
            continue
        field = Settings.model_fields.get(name)
        secret = field is not None and field.annotation is SecretStr
        lines.append(f"{variable}: {message}" + ("" if secret else f" (got {problem['input']!r})"))
    return lines


def cluster_settings() -> Settings:
    """The local cluster's settings: infra/cluster.env under the environment."""
    return Settings(_env_file=CLUSTER_ENV_FILE)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()

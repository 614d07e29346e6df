"""A settings file named by STORIES_ENV_FILE points every later read at another stack."""

from pathlib import Path

import pytest

from core.settings import CLUSTER_ENV_FILE, REPO_ROOT, Settings


def test_the_file_fills_what_the_environment_leaves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings_file = tmp_path / "other.env"
    settings_file.write_text("STORIES_KAFKA_BOOTSTRAP=10.0.0.1:9092\nSTORIES_CQL_PORT=1234\n")
    monkeypatch.setenv("STORIES_ENV_FILE", str(settings_file))
    monkeypatch.setenv("STORIES_CQL_PORT", "9999")
    settings = Settings()
    assert settings.kafka_bootstrap == "10.0.0.1:9092"
    assert settings.cql_port == 9999  # the environment wins over the file


def test_a_missing_file_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORIES_ENV_FILE", "no/such/file.env")
    with pytest.raises(ValueError, match="no/such/file.env"):
        Settings()


def test_the_cluster_file_describes_a_replicated_stack_beside_the_single_node_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STORIES_ENV_FILE", str(CLUSTER_ENV_FILE.relative_to(REPO_ROOT)))
    cluster = Settings()
    monkeypatch.delenv("STORIES_ENV_FILE")
    single = Settings()
    assert len(cluster.kafka_bootstrap.split(",")) == 3
    assert len(cluster.cql_contact_points) == 3
    assert cluster.kafka_replication_factor == 3 and cluster.kafka_min_insync_replicas == 2
    assert "'datacenter1': 3" in cluster.cql_replication
    assert cluster.state_dir == REPO_ROOT / ".state" / "cluster"
    assert cluster.kafka_bootstrap != single.kafka_bootstrap

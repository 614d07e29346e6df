"""The local broker's SASL configuration, and a storage formatted without the configured user's
SCRAM credentials refused with the way out."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from core.settings import Settings
from infra.stack import kafka, kafka_security
from infra.stack.service import StackError
from infra.stack.state import Dirs

SASL = Settings(environment="test")


def _formatted(tmp_path: Path, formatted_with: Settings | None) -> Dirs:
    """A broker's storage, formatted with these settings' credentials (None: before SASL)."""
    dirs = Dirs(tmp_path / "kafka", "kafka")
    dirs.create()
    (dirs.data / "meta.properties").write_text("version=1\n")
    if formatted_with is not None:
        kafka_security.record_credentials(formatted_with, dirs)
    return dirs


def test_a_storage_formatted_before_sasl_is_refused_with_the_way_out(tmp_path: Path) -> None:
    dirs = _formatted(tmp_path, None)
    with pytest.raises(StackError) as refused:
        kafka._format_storage(SASL, [], dirs.conf / "server.properties", dirs)
    assert "formatted without the SCRAM credentials of user 'stories'" in str(refused.value)
    assert f"rm -rf {dirs.data}" in str(refused.value)


def test_a_storage_formatted_for_another_password_is_refused(tmp_path: Path) -> None:
    dirs = _formatted(tmp_path, SASL)
    changed = SASL.model_copy(update={"kafka_password": SecretStr("changed")})
    with pytest.raises(StackError, match="formatted without the SCRAM credentials"):
        kafka._format_storage(changed, [], dirs.conf / "server.properties", dirs)


def test_a_storage_with_the_configured_credentials_starts(tmp_path: Path) -> None:
    dirs = _formatted(tmp_path, SASL)
    kafka._format_storage(SASL, [], dirs.conf / "server.properties", dirs)  # nothing to do


def test_a_plaintext_stack_takes_any_storage(tmp_path: Path) -> None:
    dirs = _formatted(tmp_path, None)
    plain = SASL.model_copy(update={"kafka_security_protocol": "PLAINTEXT"})
    kafka._format_storage(plain, [], dirs.conf / "server.properties", dirs)
    assert kafka_security.sasl_properties(plain) == "" and kafka_security.scram_arguments(plain) == []


def test_the_broker_authenticates_to_itself_as_the_configured_user() -> None:
    lines = kafka_security.sasl_properties(SASL).splitlines()
    assert "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512" in lines
    assert ('listener.name.client.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security'
            '.scram.ScramLoginModule required username="stories" '
            'password="development-only-kafka-password";') in lines


def test_a_password_that_would_break_the_broker_config_is_refused() -> None:
    quoted = SASL.model_copy(update={"kafka_password": SecretStr('say "hi"')})
    with pytest.raises(StackError, match="without quotes, backslashes or line breaks"):
        kafka_security.scram_arguments(quoted)

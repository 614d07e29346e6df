"""Logging of every process: the settings, the two formats, the request id filter, user hashes."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from core.logs import REQUEST_ID, RequestIdFilter, configure_logging, logging_config, user_hash
from core.settings import Settings, get_settings, settings_problems
from core.tracing import TRACE, TraceParent
from projections.stores.redis_batch import pseudonym
from stories.cli import app


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """configure_logging replaces the root logger's setup: put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _problems(**values: str) -> list[str]:
    with pytest.raises(ValidationError) as refused:
        Settings(**values)  # type: ignore[arg-type]
    return settings_problems(refused.value)


def test_text_at_info_with_the_access_log_by_default() -> None:
    settings = Settings()
    assert (settings.log_format, settings.log_level, settings.access_log) == ("text", "INFO", True)


def test_the_level_is_read_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORIES_LOG_LEVEL", "warning")
    monkeypatch.setenv("STORIES_LOG_FORMAT", "json")
    assert (Settings().log_level, Settings().log_format) == ("WARNING", "json")


def test_a_bad_format_or_level_is_refused_naming_the_variable_and_the_choices() -> None:
    assert _problems(log_format="xml") == [
        "STORIES_LOG_FORMAT: Input should be 'text' or 'json' (got 'xml')"]
    assert _problems(log_level="loud") == [
        "STORIES_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not 'loud'"]


def test_a_refused_secret_is_named_but_never_shown() -> None:
    assert _problems(jwt_secret=["not", "a", "string"]) == [  # type: ignore[arg-type]
        "STORIES_JWT_SECRET: Input should be a valid string"]


def test_the_command_refuses_bad_settings_before_running_anything(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORIES_LOG_FORMAT", "yaml")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["status"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "stories: STORIES_LOG_FORMAT: Input should be 'text' or 'json' (got 'yaml')" in (
        result.output)


def test_json_lines_come_from_python_json_logger() -> None:
    formatter = logging_config(Settings(log_format="json"))["formatters"]["main"]
    assert formatter["()"] == "pythonjsonlogger.orjson.OrjsonFormatter"


@pytest.mark.usefixtures("restored_logging")
def test_json_lines_carry_level_logger_message_time_and_extra_fields(
        capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_format="json", log_level="DEBUG"))
    logging.getLogger("unit.logs").debug("folded %d", 3,
                                         extra={"topic": "t", "color_message": "\x1b[36m3"})
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert {k: line[k] for k in ("level", "logger", "message", "topic")} == {
        "level": "DEBUG", "logger": "unit.logs", "message": "folded 3", "topic": "t"}
    assert line["time"].endswith("+00:00")
    assert "request_id" not in line and "color_message" not in line  # uvicorn's coloured copy


@pytest.mark.usefixtures("restored_logging")
def test_text_lines_below_the_level_are_dropped(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_format="text", log_level="WARNING"))
    logging.getLogger("unit.logs").info("quiet")
    logging.getLogger("unit.logs").warning("loud")
    assert capsys.readouterr().err.strip().endswith("WARNING [-] unit.logs: loud")


@pytest.mark.usefixtures("restored_logging")
def test_every_line_written_during_a_request_carries_its_id(
        capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_format="json"))
    token = REQUEST_ID.set("req-7")
    try:
        logging.getLogger("anything.at.all").warning("inside")
    finally:
        REQUEST_ID.reset(token)
    assert json.loads(capsys.readouterr().err.splitlines()[-1])["request_id"] == "req-7"


@pytest.mark.usefixtures("restored_logging")
def test_json_lines_of_a_request_carry_its_trace_id(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_format="json"))
    trace = TraceParent.start()
    tokens = REQUEST_ID.set("req-8"), TRACE.set(trace)
    try:
        logging.getLogger("anything.at.all").warning("inside")
    finally:
        TRACE.reset(tokens[1])
        REQUEST_ID.reset(tokens[0])
    line = json.loads(capsys.readouterr().err.splitlines()[-1])
    assert (line["request_id"], line["trace_id"]) == ("req-8", trace.trace_id)


def test_the_filter_stamps_only_records_of_a_request() -> None:
    outside = logging.makeLogRecord({"msg": "outside"})
    token = REQUEST_ID.set("abc")
    inside = logging.makeLogRecord({"msg": "inside"})
    try:
        assert RequestIdFilter().filter(inside)
    finally:
        REQUEST_ID.reset(token)
    assert RequestIdFilter().filter(outside)
    assert inside.request_id == "abc" and not hasattr(outside, "request_id")


def test_a_user_is_logged_as_a_keyed_hash_unlike_the_read_models_pseudonym() -> None:
    tag = user_hash(b"key", "ada")
    assert tag == user_hash(b"key", "ada") and len(tag) == 16 and "ada" not in tag
    assert tag != user_hash(b"other key", "ada")
    assert tag != pseudonym(b"key", "ada").hex()

"""Rules of the stickers on a posted story: each kind uses its own subset of fields."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from schemas.rules.checks import check_text, fail, is_blank, is_single_emoji
from schemas.rules.limits import (
    MAX_OPTION_CHARS,
    MAX_OPTIONS,
    MAX_PROMPT_CHARS,
    MAX_STICKERS,
    MIN_OPTIONS,
)

__all__ = ["check_stickers"]

_OPTION_KINDS = frozenset({"POLL", "QUIZ"})


def check_stickers(stickers: Sequence[Mapping[str, Any]]) -> None:
    """At most five stickers, each with its own id."""
    if len(stickers) > MAX_STICKERS:
        fail("stickers", f"at most {MAX_STICKERS} stickers per story, got {len(stickers)}")
    first_seen: dict[str, int] = {}
    for index, sticker in enumerate(stickers):
        sticker_id = sticker["sticker_id"]
        if sticker_id in first_seen:
            fail(
                f"stickers[{index}].sticker_id",
                f"repeats stickers[{first_seen[sticker_id]}].sticker_id ({sticker_id!r})",
            )
        first_seen[sticker_id] = index
        _check_sticker(f"stickers[{index}]", sticker)


def _check_sticker(path: str, sticker: Mapping[str, Any]) -> None:
    """Each kind uses its own subset of options, correct_option and emoji."""
    kind = sticker["kind"]
    _check_prompt(path, kind, sticker["prompt"])
    _check_options(path, kind, sticker["options"])
    _check_correct_option(path, kind, sticker["correct_option"], len(sticker["options"]))
    _check_slider_emoji(path, kind, sticker["emoji"])


def _check_prompt(path: str, kind: str, prompt: str) -> None:
    """Quizzes and questions must ask something; polls and sliders may leave it empty."""
    if kind in ("QUIZ", "QUESTION") and is_blank(prompt):
        fail(f"{path}.prompt", f"{_sticker_label(kind)} needs a prompt")
    if len(prompt) > MAX_PROMPT_CHARS:
        fail(f"{path}.prompt", f"must be at most {MAX_PROMPT_CHARS} characters, got {len(prompt)}")


def _check_options(path: str, kind: str, options: Sequence[str]) -> None:
    """Polls and quizzes offer 2 to 4 distinct, non-empty options; other kinds none."""
    if kind not in _OPTION_KINDS:
        if options:
            fail(f"{path}.options", f"{_sticker_label(kind)} has no options")
        return
    if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        fail(
            f"{path}.options",
            f"{_sticker_label(kind)} needs {MIN_OPTIONS} to {MAX_OPTIONS} options, "
            f"got {len(options)}",
        )
    for index, option in enumerate(options):
        check_text(f"{path}.options[{index}]", option, MAX_OPTION_CHARS)
        if option in options[:index]:
            fail(f"{path}.options[{index}]", f"repeats option [{options.index(option)}]")


def _check_correct_option(path: str, kind: str, correct: int | None, option_count: int) -> None:
    """Only a quiz has a right answer, and it must point at one of its options."""
    if kind != "QUIZ":
        if correct is not None:
            fail(
                f"{path}.correct_option",
                f"only a quiz has a correct option, not {_sticker_label(kind)}",
            )
        return
    if correct is None:
        fail(f"{path}.correct_option", "a quiz needs the index of its correct option")
    if not 0 <= correct < option_count:
        fail(f"{path}.correct_option", f"must be 0 to {option_count - 1}, got {correct}")


def _check_slider_emoji(path: str, kind: str, sticker_emoji: str | None) -> None:
    """An emoji slider shows exactly one emoji; other kinds show none."""
    if kind != "EMOJI_SLIDER":
        if sticker_emoji is not None:
            fail(f"{path}.emoji", f"only an emoji slider has an emoji, not {_sticker_label(kind)}")
        return
    if sticker_emoji is None or not is_single_emoji(sticker_emoji):
        fail(f"{path}.emoji", "an emoji slider needs a single emoji")


def _sticker_label(kind: str) -> str:
    """Human wording of a sticker kind for messages: "a poll", "an emoji slider"."""
    label = kind.lower().replace("_", " ")
    return f"an {label}" if label[0] in "aeiou" else f"a {label}"

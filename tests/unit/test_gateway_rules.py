"""The gateway's pure rules: answers fit stickers, insights from tallies, kept stories, order."""

from __future__ import annotations

import pytest

from gateway.app import _field_name
from gateway.commands import _renamed, check_answer
from gateway.models import AnswerRequest
from gateway.present import sticker_results
from gateway.problems import Problem
from gateway.reads import may_see_kept, tray_key
from projections.model import Story
from projections.queries import TrayItem

POLL = {"sticker_id": "p", "kind": "POLL", "prompt": "?", "options": ["a", "b", "c"],
        "correct_option": None, "emoji": None}
QUIZ = {**POLL, "sticker_id": "q", "kind": "QUIZ", "options": ["3", "4"], "correct_option": 1}
SLIDER = {"sticker_id": "s", "kind": "EMOJI_SLIDER", "prompt": "", "options": [],
          "correct_option": None, "emoji": "🔥"}
QUESTION = {"sticker_id": "k", "kind": "QUESTION", "prompt": "?", "options": [],
            "correct_option": None, "emoji": None}


@pytest.mark.parametrize(("sticker", "answer"), [
    (POLL, {"option_index": 2}), (QUIZ, {"option_index": 0}), (SLIDER, {"slider_value": 1.0}),
    (QUESTION, {"text": "why"}),
])
def test_answers_that_fit(sticker, answer):
    check_answer(sticker, AnswerRequest(**answer))


@pytest.mark.parametrize(("sticker", "answer", "field"), [
    (POLL, {"option_index": 3}, "option_index"),
    (QUIZ, {"option_index": 2}, "option_index"),
    (POLL, {"text": "a"}, "text"),
    (SLIDER, {"option_index": 0}, "option_index"),
    (QUESTION, {}, "option_index"),
    (QUESTION, {"text": "a", "slider_value": 0.5}, "text"),
])
def test_answers_that_do_not_fit_name_the_field(sticker, answer, field):
    with pytest.raises(Problem) as refused:
        check_answer(sticker, AnswerRequest(**answer))
    assert refused.value.status == 422
    assert refused.value.document.errors[0].field == field


def test_sticker_results_from_tallies():
    tallies = {"p": {"o0": 2, "o2": 1, "n": 3}, "q": {"o1": 4, "o0": 1, "n": 5},
               "s": {"n": 4, "sum": 3.0}, "k": {"n": 2}, "gone": {"o1": 1, "n": 1}}
    results = {r.sticker_id: r for r in sticker_results([POLL, QUIZ, SLIDER, QUESTION], tallies)}
    assert [(o.text, o.count) for o in results["p"].options] == [("a", 2), ("b", 0), ("c", 1)]
    assert [(o.count, o.correct) for o in results["q"].options] == [(1, False), (4, True)]
    assert (results["s"].slider.count, results["s"].slider.mean) == (4, 0.75)
    assert (results["k"].kind, results["k"].answers) == ("QUESTION", 2)
    unknown = results["gone"]  # the story's definition is no longer kept
    assert unknown.kind is None and [(o.index, o.count) for o in unknown.options] == [(1, 1)]


def test_results_without_answers_are_zeroes():
    (slider,) = sticker_results([SLIDER], {})
    assert (slider.answers, slider.slider.count, slider.slider.mean) == (0, 0, None)


def story(mode: str = "FOLLOWERS", ids: frozenset[str] = frozenset(), status: str = "ready"):
    return Story("s1", "author", posted_at=0, expires_at=1000, kind="TEXT", text="t",
                 audience_mode=mode, audience_ids=ids, status=status)


def test_kept_stories_keep_their_audience_rules_but_not_their_expiry():
    assert may_see_kept(story(), "fan", follows_author=True)
    assert not may_see_kept(story(), "stranger", follows_author=False)
    assert may_see_kept(story("ONLY", frozenset({"x"})), "x", follows_author=False)
    assert not may_see_kept(story("FOLLOWERS_EXCEPT", frozenset({"x"})), "x", follows_author=True)
    assert not may_see_kept(story(status="processing"), "fan", follows_author=True)
    assert may_see_kept(story(status="processing"), "author", follows_author=False)


def test_tray_order_is_muted_last_unseen_first_newest_first():
    def item(author: str, at: int, unseen: bool, muted: bool = False) -> TrayItem:
        return TrayItem(author, f"s-{author}", at, unseen, None, muted)

    items = [item("a", 1, False), item("b", 2, True, muted=True), item("c", 3, True),
             item("d", 4, False), item("e", 1, True)]
    ordered = [i.author_id for i in sorted(items, key=tray_key)]
    assert ordered == ["c", "e", "d", "a", "b"]


@pytest.mark.parametrize(("error", "field"), [
    ({"loc": ("body", "audience", "user_ids", 0), "type": "string_pattern_mismatch"},
     "audience.user_ids[0]"),
    ({"loc": ("body", "stickers", 1, "options"), "type": "too_long"}, "stickers[1].options"),
    ({"loc": ("query", "limit"), "type": "less_than_equal"}, "limit"),
    ({"loc": ("header", "Idempotency-Key"), "type": "string_pattern_mismatch"}, "Idempotency-Key"),
    ({"loc": ("body",), "type": "missing"}, "body"),
])
def test_validation_errors_name_the_field_as_the_client_wrote_it(error, field):
    assert _field_name(error) == field


def test_event_fields_are_renamed_to_request_fields():
    renames = {"close_friend_ids": "user_ids"}
    assert _renamed("close_friend_ids[3]", renames) == "user_ids[3]"
    assert _renamed("close_friend_ids", renames) == "user_ids"
    assert _renamed("actor_id", renames) == "actor_id"

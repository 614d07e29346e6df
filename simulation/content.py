"""What simulated stories carry: texts, stickers and their answers, reactions, media renditions."""

from __future__ import annotations

import random
from typing import Any

__all__ = [
    "REACTIONS",
    "TEXTS",
    "TITLES",
    "answer",
    "processed",
    "renditions",
    "sticker",
    "stickers",
]

REACTIONS = ("😍", "😂", "🔥", "👏", "😮", "😢", "🎉", "💯")
SLIDER_EMOJI = ("😍", "🔥", "😂", "🤩")
ANSWERS = ("Yes!", "Tomorrow at noon", "The blue one", "Pizza, always", "Not sure yet")
TITLES = ("Travel", "Food", "Friends", "Pets", "Summer", "Work", "Family")
TEXTS = ("Good morning!", "Guess where I am", "New week, new goals", "Can't believe this",
         "Best day ever", "Who's coming tonight?", "Throwback")
STICKER_KINDS = ("POLL", "QUIZ", "QUESTION", "EMOJI_SLIDER")


def stickers(rng: random.Random) -> tuple[dict[str, Any], ...]:
    """One sticker, now and then two, of the four kinds."""
    count = 1 if rng.random() < 0.85 else 2
    kinds = rng.sample(STICKER_KINDS, count)
    return tuple(sticker(f"st{i}", kind, rng) for i, kind in enumerate(kinds))


def sticker(sticker_id: str, kind: str, rng: random.Random) -> dict[str, Any]:
    """A sticker of the given kind with plausible content."""
    made: dict[str, Any] = {"sticker_id": sticker_id, "kind": kind, "prompt": "",
                            "options": [], "correct_option": None, "emoji": None}
    if kind == "POLL":
        made.update(prompt="Which one?", options=["This", "That"])
    elif kind == "QUIZ":
        made.update(prompt="Where was this taken?", options=["Lisbon", "Oslo", "Rome"],
                    correct_option=rng.randrange(3))
    elif kind == "QUESTION":
        made.update(prompt="Ask me anything")
    else:
        made.update(prompt="How much do you love it?", emoji=rng.choice(SLIDER_EMOJI))
    return made


def answer(on: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A viewer's answer to one sticker: an option, a slider position or a few words."""
    given: dict[str, Any] = {"sticker_id": on["sticker_id"], "option_index": None,
                             "slider_value": None, "text": None}
    if on["options"]:
        given["option_index"] = rng.randrange(len(on["options"]))
    elif on["kind"] == "EMOJI_SLIDER":
        given["slider_value"] = round(rng.random(), 3)
    else:
        given["text"] = rng.choice(ANSWERS)
    return given


def renditions(base: str, media_kind: str, rng: random.Random) -> list[dict[str, Any]]:
    """The full-size rendition and the thumbnail the media agent makes of an upload."""
    thumbnail = {"name": "thumbnail", "key": f"{base}/thumb.jpg", "content_type": "image/jpeg",
                 "width": 180, "height": 320, "size_bytes": rng.randint(6_000, 14_000),
                 "duration_ms": None}
    if media_kind == "IMAGE":
        full = {"name": "full", "key": f"{base}/full.jpg", "content_type": "image/jpeg",
                "width": 1080, "height": 1920, "size_bytes": rng.randint(150_000, 400_000),
                "duration_ms": None}
    else:
        full = {"name": "full", "key": f"{base}/full.mp4", "content_type": "video/mp4",
                "width": 720, "height": 1280, "size_bytes": rng.randint(800_000, 4_000_000),
                "duration_ms": rng.randint(3_000, 15_000)}
    return [full, thumbnail]


def processed(story_id: str, media_id: str, media_kind: str,
              rng: random.Random) -> dict[str, Any]:
    """MediaProcessed's fields as the media agent would report them, with no upload behind."""
    return {"story_id": story_id, "media_id": media_id, "media_kind": media_kind,
            "renditions": renditions(story_id, media_kind, rng)}

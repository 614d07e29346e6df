"""Rules of the social graph: follows and close-friends lists never include oneself."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.rules.checks import fail

__all__ = ["check_close_friends_changed", "check_follow_change"]


def check_follow_change(record: Mapping[str, Any]) -> None:
    """Users do not follow or unfollow themselves."""
    if record["followee_id"] == record["actor_id"]:
        fail("followee_id", "must differ from actor_id (users do not follow themselves)")


def check_close_friends_changed(record: Mapping[str, Any]) -> None:
    """The actor is never on their own close-friends list."""
    actor_id = record["actor_id"]
    for index, friend_id in enumerate(record["close_friend_ids"]):
        if friend_id == actor_id:
            fail(f"close_friend_ids[{index}]", "must not be the actor")

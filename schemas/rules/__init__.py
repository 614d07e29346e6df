"""Product rules that Avro types cannot express, checked on encode and again on decode.

Every rule receives a record that already matches the latest schema of its event, so it can
index fields freely. Rules are stateless: they never look anything up, which keeps them cheap
enough for the hot path and means a rule that needs other events (e.g. "only the author may
delete") belongs in the consumer, not here.

One module per event family holds its rules; this package names the rule of each event and
the limits the rules enforce.
"""

from __future__ import annotations

from schemas.rules import limits
from schemas.rules.checks import (
    SYSTEM_ACTOR,
    Rule,
    check_common,
    is_single_emoji,
    no_extra_rule,
    to_millis,
)
from schemas.rules.engagement import (
    check_sticker_answered,
    check_story_reacted,
    check_story_replied,
    check_story_viewed,
)
from schemas.rules.highlights import check_highlight_created, check_highlight_updated
from schemas.rules.lifecycle import check_story_expired, check_story_posted
from schemas.rules.limits import *  # noqa: F403 - the limits, named once in limits.__all__
from schemas.rules.media import check_media_processed, check_media_rejected
from schemas.rules.social_graph import check_close_friends_changed, check_follow_change

__all__ = [
    "RULES",
    "Rule",
    "SYSTEM_ACTOR",
    "check_common",
    "is_single_emoji",
    "to_millis",
]
__all__ += limits.__all__

RULES: dict[str, Rule] = {
    "StoryPosted": check_story_posted,
    "MediaProcessed": check_media_processed,
    "MediaRejected": check_media_rejected,
    "StoryViewed": check_story_viewed,
    "StoryReacted": check_story_reacted,
    "StickerAnswered": check_sticker_answered,
    "StoryReplied": check_story_replied,
    "StoryDeleted": no_extra_rule,
    "StoryExpired": check_story_expired,
    "HighlightCreated": check_highlight_created,
    "HighlightUpdated": check_highlight_updated,
    "HighlightStoryAdded": no_extra_rule,
    "HighlightStoryRemoved": no_extra_rule,
    "HighlightDeleted": no_extra_rule,
    "UserFollowed": check_follow_change,
    "UserUnfollowed": check_follow_change,
    "CloseFriendsChanged": check_close_friends_changed,
    "UserErased": no_extra_rule,
}

"""The Redis read models of one version, read back whole into the stores' common form.

For checks (the contract suite, live == replay) and support tools: it scans every key of the
version, so it is never on a request path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from projections.catalogue import REDIS_KINDS
from projections.model import Story, TrayEntry
from projections.stores.base import StoryRef
from projections.stores.keys import Kind, expiry_partition

if TYPE_CHECKING:
    from projections.stores.redis_store import RedisReadModels

__all__ = ["redis_dump", "ACTIVE_STATE_PARTS"]

# The parts of the active store's state, each a mapping by owner (user, story, or lifecycle
# partition for the expiry index) or a set.
ACTIVE_STATE_PARTS = (
    "stories", "story_refs", "expiry_index", "deleted", "insights_owners", "trays",
    "tray_order", "seen", "celebrities", "followers", "following", "close_friends",
    "view_events", "viewers", "replies", "reactions", "reaction_counts", "answerers",
    "sticker_counters", "insights_index", "story_partitions", "engaged",
    "listed_by", "erased", "erasure_index",
)


def _text(raw: bytes) -> str:
    return raw.decode()


def _hex(raw: bytes) -> str:
    return raw.hex()


def _texts(client: Any, key: bytes) -> set[str]:
    return {_text(m) for m in client.smembers(key)}


def _pseudonyms(client: Any, key: bytes) -> set[str]:
    return {_hex(m) for m in client.smembers(key)}


def _stories(client: Any, key: bytes, owner: str) -> dict[str, Story]:
    return {_text(s): Story.from_json(v) for s, v in client.hgetall(key).items()}


def _tray(client: Any, key: bytes, owner: str) -> dict[str, TrayEntry]:
    return {_text(a): TrayEntry.from_json(_text(a), v) for a, v in client.hgetall(key).items()}


def _ref(client: Any, key: bytes) -> StoryRef:
    author_id, expires_at = _text(client.get(key)).rsplit("|", 1)
    return StoryRef(author_id, int(expires_at))


def _reactions(client: Any, key: bytes) -> dict[str, tuple[int, str]]:
    result = {}
    for who, value in client.hgetall(key).items():
        at, emoji = _text(value).split("|", 1)
        result[_hex(who)] = (int(at), emoji)
    return result


def _counts(client: Any, key: bytes) -> dict[str, int]:
    return {_text(k): int(v) for k, v in client.hgetall(key).items() if int(v) > 0}


def _floats(client: Any, key: bytes) -> dict[str, float]:
    return {_text(k): float(v) for k, v in client.hgetall(key).items()}


def _scores(client: Any, key: bytes) -> dict[str, int]:
    return {_text(m): int(s) for m, s in client.zrange(key, 0, -1, withscores=True)}


# kind -> (part, reader of one key); kinds not listed are coordination, not read models.
_PER_OWNER: dict[Kind, tuple[str, Callable[..., Any]]] = {
    Kind.AUTHOR_STORIES: ("stories", _stories),
    Kind.STORY_REF: ("story_refs", lambda c, k, o: _ref(c, k)),
    Kind.INSIGHTS_OWNER: ("insights_owners", lambda c, k, o: _text(c.get(k))),
    Kind.AUTHOR_INSIGHTS: ("insights_index", lambda c, k, o: _texts(c, k)),
    Kind.AUTHOR_PARTITIONS: ("story_partitions", lambda c, k, o: {
        _text(s): int(p) for s, p in c.hgetall(k).items()}),
    Kind.ENGAGED: ("engaged", lambda c, k, o: _texts(c, k)),
    Kind.LISTED_BY: ("listed_by", lambda c, k, o: _texts(c, k)),
    Kind.ERASED: ("erased", lambda c, k, o: int(c.get(k))),
    Kind.TRAY_ENTRIES: ("trays", _tray),
    Kind.TRAY_ORDER: ("tray_order", lambda c, k, o: _scores(c, k)),
    Kind.SEEN: ("seen", lambda c, k, o: _texts(c, k)),
    Kind.FOLLOWERS: ("followers", lambda c, k, o: _texts(c, k)),
    Kind.FOLLOWING: ("following", lambda c, k, o: _texts(c, k)),
    Kind.CLOSE_FRIENDS: ("close_friends", lambda c, k, o: _texts(c, k)),
    Kind.VIEW_EVENTS: ("view_events", lambda c, k, o: _pseudonyms(c, k)),
    Kind.VIEWERS: ("viewers", lambda c, k, o: _pseudonyms(c, k)),
    Kind.REPLIES: ("replies", lambda c, k, o: _pseudonyms(c, k)),
    Kind.REACTORS: ("reactions", lambda c, k, o: _reactions(c, k)),
    Kind.REACTION_COUNTS: ("reaction_counts", lambda c, k, o: _counts(c, k)),
    Kind.ANSWERERS: ("answerers", lambda c, k, o: {_hex(m) for m in c.hkeys(k)}),
    Kind.STICKER_COUNTERS: ("sticker_counters", lambda c, k, o: _floats(c, k)),
}


def redis_dump(models: RedisReadModels) -> dict[str, Any]:
    """Every read model under this version's prefixes, empty parts left out."""
    state: dict[str, Any] = {part: {} for part in ACTIVE_STATE_PARTS}
    state["deleted"], state["celebrities"] = set(), set()
    client = models.client
    for prefix in sorted(set(models.prefixes.values())):
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            _read_key(models, state, key, key.decode()[len(prefix):], prefix)
    return {part: value for part, value in state.items() if value}


def _read_key(models: RedisReadModels, state: dict[str, Any], key: bytes, rest: str,
              prefix: str) -> None:
    kind_text, _, tagged = rest.partition(":")
    owner = tagged[1:-1] if tagged.startswith("{") and tagged.endswith("}") else tagged
    try:
        kind = Kind(kind_text)
    except ValueError:
        return  # not a read-model key
    if models.prefixes[REDIS_KINDS[kind]] != prefix:
        return  # this kind lives under another projection's version
    client = models.client
    if kind is Kind.DELETED:
        state["deleted"].add(owner)
    elif kind is Kind.ERASURES:
        state["erasure_index"][""] = _scores(client, key)
    elif kind is Kind.CELEBRITIES:
        state["celebrities"] |= _texts(client, key)
    elif kind is Kind.EXPIRY_INDEX:
        entries = {tuple(member.split("|", 1)): score
                   for member, score in _scores(client, key).items()}
        if entries:  # by lifecycle partition (None: the old single index)
            state["expiry_index"][expiry_partition(owner)] = entries
    elif kind in _PER_OWNER:
        part, read = _PER_OWNER[kind]
        value = read(client, key, owner)
        if value:
            state[part][owner] = value

"""OpenAPI links: which operations take the id that a creating operation answers with.

Clients and tools (code generators, fuzzers) follow them from a new story or highlight to every
operation on it, instead of guessing from parameter names.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LINKS", "add_links"]

STORY_ID = {"story_id": "$response.body#/story_id"}
HIGHLIGHT_ID = {"highlight_id": "$response.body#/highlight_id"}

# creating operation -> {link name: (target operation, parameters from the answer)}
LINKS: dict[str, dict[str, tuple[str, dict[str, str]]]] = {
    "post_story": {
        "GetStory": ("get_story", STORY_ID),
        "DeleteStory": ("delete_story", STORY_ID),
        "ListViewers": ("list_viewers", STORY_ID),
        "GetInsights": ("get_insights", STORY_ID),
        "ViewStory": ("view_story", STORY_ID),
        "ReactToStory": ("react_to_story", STORY_ID),
        "ReplyToStory": ("reply_to_story", STORY_ID),
        "AnswerSticker": ("answer_sticker", STORY_ID),
    },
    "create_highlight": {
        "GetHighlight": ("get_highlight", {**HIGHLIGHT_ID, "user_id": "$response.body#/owner_id"}),
        "ListHighlights": ("list_highlights", {"user_id": "$response.body#/owner_id"}),
        "ChangeHighlight": ("change_highlight", HIGHLIGHT_ID),
        "DeleteHighlight": ("delete_highlight", HIGHLIGHT_ID),
        "AddHighlightStory": ("add_highlight_story", HIGHLIGHT_ID),
        "RemoveHighlightStory": ("remove_highlight_story",
                                 {**HIGHLIGHT_ID, "story_id": "$request.body#/story_ids/0"}),
    },
}


def add_links(openapi: dict[str, Any]) -> dict[str, Any]:
    """Declare LINKS on the success answer of each creating operation."""
    operations = {operation["operationId"]: operation
                  for item in openapi.get("paths", {}).values() for operation in item.values()
                  if isinstance(operation, dict) and "operationId" in operation}
    for source, links in LINKS.items():
        responses = operations[source]["responses"]
        success = next(status for status in responses if status.startswith("2"))
        responses[success]["links"] = {
            name: {"operationId": target, "parameters": parameters,
                   "description": f"`{target}` on what this created"}
            for name, (target, parameters) in links.items()
        }
    return openapi

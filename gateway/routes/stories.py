"""Stories: post, delete, the tray, an author's stories, viewers, insights, live engagement."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, WebSocket

from core.clock import now_ms
from gateway import commands
from gateway.live import serve_live
from gateway.models import (
    Accepted,
    Insights,
    StoryAccepted,
    StoryList,
    StoryRequest,
    TrayPage,
    ViewerPage,
)
from gateway.present import JsonBody
from gateway.present import insights as present_insights
from gateway.present import viewer as present_viewer
from gateway.problems import invalid, not_found, problem_responses
from gateway.reads import insights_of, own_story, tray_page
from gateway.routes.deps import (
    READ_PROBLEMS,
    WRITE_PROBLEMS,
    CurrentUser,
    Cursor,
    GatewayRoute,
    Gw,
    Limit,
    StoryIdPath,
    UserIdPath,
)
from projections.queries import visible_stories_async
from projections.stores.cql_reads import viewers_page

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["stories"], route_class=GatewayRoute)

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", pattern=r"^[\x21-\x7e]{1,128}$",
           description="Repeat a post safely: the same key answers with the same story"),
]
Muted = Annotated[
    str | None,
    Query(max_length=1000, description="Comma-separated authors to put last (kept nowhere)"),
]


@router.post("/stories", status_code=202, response_model=StoryAccepted,
             responses={**WRITE_PROBLEMS, **problem_responses(409)})
async def post_story(
    request: StoryRequest, user: CurrentUser, gw: Gw, key: IdempotencyKey = None
) -> StoryAccepted:
    """Post a story; answered once the log has it (media stories are then processed)."""
    return await commands.post_story(gw, user, request, key)


@router.delete("/stories/{story_id}", status_code=202, response_model=Accepted,
               responses=WRITE_PROBLEMS)
async def delete_story(story_id: StoryIdPath, user: CurrentUser, gw: Gw) -> Accepted:
    """The author removes a story everywhere; to anyone else it does not exist."""
    await commands.run_command(gw, commands.delete_story, user, story_id)
    return Accepted()


@router.get("/stories/tray", response_model=TrayPage, responses=READ_PROBLEMS)
async def tray(user: CurrentUser, gw: Gw, limit: Limit = 30, cursor: Cursor = None,
               muted: Muted = None) -> JsonBody:
    """Who has stories for the caller: unseen first, newest first, muted authors last."""
    after = gw.cursors.open(cursor, user, "tray") if cursor else None
    items, position = await tray_page(gw.models.redis, gw.async_redis, user, now_ms(),
                                      _muted(muted), after, limit, gw.celebrity_hints)
    keys = await gw.story_keys.open(
        {item.latest_story_id: item.media_key for item in items if item.media_key})
    return JsonBody({
        "items": [gw.presenter.tray_item(item, keys.get(item.latest_story_id)) for item in items],
        "next_cursor": gw.cursors.seal(user, "tray", position) if position else None,
    })


def _muted(muted: str | None) -> frozenset[str]:
    authors = [a for a in (muted or "").split(",") if a]
    if len(authors) > 500:
        raise invalid("muted", "at most 500 authors")
    return frozenset(authors)


@router.get("/users/{user_id}/stories", response_model=StoryList, responses=READ_PROBLEMS)
async def stories_of(user_id: UserIdPath, user: CurrentUser, gw: Gw) -> JsonBody:
    """The author's active stories the caller may see, oldest first (viewing order)."""
    stories = await visible_stories_async(gw.models.redis, gw.async_redis, user, user_id,
                                          now_ms())
    keys = await gw.story_keys.open(
        {story.story_id: story.media_key for story in stories if story.media_key})
    return JsonBody({"stories": [gw.presenter.story(s, user, keys.get(s.story_id))
                                 for s in stories]})


@router.get("/stories/{story_id}/viewers", response_model=ViewerPage, responses=READ_PROBLEMS)
def viewers(story_id: StoryIdPath, user: CurrentUser, gw: Gw, limit: Limit = 50,
            cursor: Cursor = None) -> ViewerPage:
    """Who viewed the caller's active story, with first-view time and current reaction."""
    if own_story(gw.models.redis, user, story_id, now_ms()) is None:
        raise not_found()
    resource = f"viewers:{story_id}"
    bucket, after = gw.cursors.open(cursor, user, resource) if cursor else (0, "")
    rows, position = viewers_page(gw.models.cql, story_id, (int(bucket), str(after)), limit)
    return ViewerPage(
        viewers=[present_viewer(row) for row in rows],
        next_cursor=gw.cursors.seal(user, resource, list(position)) if position else None,
    )


@router.get("/stories/{story_id}/insights", response_model=Insights, responses=READ_PROBLEMS)
def insights(story_id: StoryIdPath, user: CurrentUser, gw: Gw) -> Insights:
    """Counts of the caller's story, no identities; readable for a while after expiry."""
    found = insights_of(gw.models, user, story_id, now_ms())
    if found is None:
        raise not_found()
    return present_insights(found)


@router.websocket("/stories/{story_id}/live")
async def live(websocket: WebSocket, story_id: str) -> None:
    """The author's live feed of views, reactions and answers (token in `?token=`)."""
    await serve_live(websocket, websocket.app.state.gateway, story_id)

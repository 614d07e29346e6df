"""Stories: post, delete, the tray, an author's stories, viewers, insights, live engagement."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, WebSocket

from core.clock import now_ms
from gateway import commands
from gateway.context import Gateway
from gateway.live import announce_end, serve_live
from gateway.models import (
    Accepted,
    Insights,
    StoryAccepted,
    StoryList,
    StoryOut,
    StoryRequest,
    TrayPage,
    TrayQuery,
    ViewerPage,
)
from gateway.present import JsonBody
from gateway.present import insights as present_insights
from gateway.present import viewer as present_viewer
from gateway.problems import invalid, not_found, problem_responses
from gateway.reads import insights_of, own_story, page_after, story_for, story_key, tray_page
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
    created_at,
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


@router.post("/stories", operation_id="post_story", status_code=202, response_model=StoryAccepted,
             responses={**WRITE_PROBLEMS, **problem_responses(409), **created_at("story")})
async def post_story(
    request: StoryRequest, user: CurrentUser, gw: Gw, response: Response,
    key: IdempotencyKey = None,
) -> StoryAccepted:
    """Post a story; answered once the log has it (media stories are then processed). The
    `Location` header names the story, readable there once the worker has folded it."""
    accepted = await commands.post_story(gw, user, request, key)
    response.headers["Location"] = f"/api/v1/stories/{accepted.story_id}"
    return accepted


@router.delete("/stories/{story_id:story_id}", operation_id="delete_story", status_code=202,
               response_model=Accepted, responses=WRITE_PROBLEMS)
async def delete_story(story_id: StoryIdPath, user: CurrentUser, gw: Gw) -> Accepted:
    """The author removes a story everywhere; to anyone else it does not exist."""
    await commands.run_command(gw, commands.delete_story, user, story_id)
    await announce_end(gw, story_id)
    return Accepted()


@router.get("/stories/tray", operation_id="get_tray", response_model=TrayPage, responses=READ_PROBLEMS)
async def tray(user: CurrentUser, gw: Gw, limit: Limit = 30, cursor: Cursor = None,
               muted: Muted = None) -> JsonBody:
    """Who has stories for the caller: unseen first, newest first, muted authors last. A long
    mute list does not fit a URL: `POST /api/v1/stories/tray` takes it in the body."""
    return await _tray(gw, user, limit, cursor, _muted(muted))


@router.post("/stories/tray", operation_id="query_tray", response_model=TrayPage, responses=READ_PROBLEMS)
async def tray_query(query: TrayQuery, user: CurrentUser, gw: Gw) -> JsonBody:
    """The tray, as `GET /api/v1/stories/tray`, with the muted authors (up to 500) in the body.
    A read: nothing is recorded, the server keeps nothing of the mute list."""
    return await _tray(gw, user, query.limit, query.cursor, frozenset(query.muted))


async def _tray(gw: Gateway, user: str, limit: int, cursor: str | None,
                muted: frozenset[str]) -> JsonBody:
    after = gw.cursors.open(cursor, user, "tray") if cursor else None
    page = await tray_page(gw.models.redis, gw.async_redis, user, now_ms(), muted, after, limit,
                           gw.celebrity_hints)
    keys = await gw.story_keys.open(
        {item.latest_story_id: item.media_key for item in page.items if item.media_key})
    next_cursor = gw.cursors.seal(user, "tray", page.after) if page.after else None
    return JsonBody(gw.presenter.tray_page(page.items, keys, next_cursor, page.truncated))


def _muted(muted: str | None) -> frozenset[str]:
    authors = [a for a in (muted or "").split(",") if a]
    if len(authors) > 500:
        raise invalid("muted", "at most 500 authors")
    return frozenset(authors)


@router.get("/users/{user_id}/stories", operation_id="list_author_stories",
            response_model=StoryList, responses=READ_PROBLEMS)
async def stories_of(user_id: UserIdPath, user: CurrentUser, gw: Gw, limit: Limit = 100,
                     cursor: Cursor = None) -> JsonBody:
    """The author's active stories the caller may see, oldest first (viewing order)."""
    resource = f"stories:{user_id}"
    after = gw.cursors.open(cursor, user, resource) if cursor else None
    stories = await visible_stories_async(gw.models.redis, gw.async_redis, user, user_id,
                                          now_ms())
    page = page_after(stories, story_key, after, limit)
    keys = await gw.story_keys.open(
        {story.story_id: story.media_key for story in page.items if story.media_key})
    return JsonBody({
        "items": [gw.presenter.story(s, user, keys.get(s.story_id)) for s in page.items],
        "next_cursor": gw.cursors.seal(user, resource, page.after) if page.after else None,
    })


@router.get("/stories/{story_id:story_id}", operation_id="get_story", response_model=StoryOut,
            responses=READ_PROBLEMS)
async def story(story_id: StoryIdPath, user: CurrentUser, gw: Gw) -> JsonBody:
    """One active story the caller may see (a deep link); the author also sees it while it is
    processed or after its media was refused. Anything else is a 404, as for no story."""
    found = await commands.in_thread(story_for, gw.models.redis, user, story_id, now_ms())
    if found is None:
        raise not_found()
    keys = await gw.story_keys.open({found.story_id: found.media_key} if found.media_key
                                    else {})
    return JsonBody(gw.presenter.story(found, user, keys.get(found.story_id)))


@router.get("/stories/{story_id}/viewers", operation_id="list_viewers",
            response_model=ViewerPage, responses=READ_PROBLEMS)
def viewers(story_id: StoryIdPath, user: CurrentUser, gw: Gw, limit: Limit = 50,
            cursor: Cursor = None) -> ViewerPage:
    """Who viewed the caller's active story, with first-view time and current reaction."""
    if own_story(gw.models.redis, user, story_id, now_ms()) is None:
        raise not_found()
    resource = f"viewers:{story_id}"
    bucket, after = gw.cursors.open(cursor, user, resource) if cursor else (0, "")
    rows, position = viewers_page(gw.models.cql, story_id, (int(bucket), str(after)), limit)
    return ViewerPage(
        items=[present_viewer(row) for row in rows],
        next_cursor=gw.cursors.seal(user, resource, list(position)) if position else None,
    )


@router.get("/stories/{story_id}/insights", operation_id="get_insights",
            response_model=Insights, responses=READ_PROBLEMS)
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

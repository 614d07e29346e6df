"""Highlights: the owner's collections of stories that outlive expiry."""

from __future__ import annotations

from fastapi import APIRouter, Response

from core.clock import now_ms
from gateway import commands
from gateway.context import Gateway
from gateway.models import (
    Accepted,
    HighlightAccepted,
    HighlightChange,
    HighlightList,
    HighlightOut,
    HighlightRequest,
    HighlightStoryRequest,
    StoryOut,
)
from gateway.problems import not_found
from gateway.reads import HighlightView, highlight_for, highlights_for
from gateway.routes.deps import (
    READ_PROBLEMS,
    WRITE_PROBLEMS,
    CurrentUser,
    Cursor,
    GatewayRoute,
    Gw,
    HighlightIdPath,
    Limit,
    StoryIdPath,
    UserIdPath,
    created_at,
)

__all__ = ["router", "present_highlights"]

router = APIRouter(prefix="/api/v1", tags=["highlights"], route_class=GatewayRoute)


@router.post("/highlights", operation_id="create_highlight",
             status_code=202, response_model=HighlightAccepted,
             responses={**WRITE_PROBLEMS, **created_at("highlight")})
async def create(request: HighlightRequest, user: CurrentUser, gw: Gw,
                 response: Response) -> HighlightAccepted:
    """Gather some of the caller's active stories into a new highlight; `Location` names it,
    readable there once the worker has folded it."""
    command = await commands.in_thread(commands.create_highlight, gw, user, request)
    await gw.emit(command)
    highlight_id = command.record["highlight_id"]
    response.headers["Location"] = f"/api/v1/users/{user}/highlights/{highlight_id}"
    return HighlightAccepted(highlight_id=highlight_id, owner_id=user)


@router.patch("/highlights/{highlight_id}", operation_id="change_highlight",
              status_code=202, response_model=Accepted,
              responses=WRITE_PROBLEMS)
async def change(highlight_id: HighlightIdPath, request: HighlightChange, user: CurrentUser,
                 gw: Gw) -> Accepted:
    """Rename a highlight and/or reorder its stories."""
    await commands.run_command(gw, commands.change_highlight, user, highlight_id, request)
    return Accepted()


@router.delete("/highlights/{highlight_id}", operation_id="delete_highlight",
               status_code=202, response_model=Accepted,
               responses=WRITE_PROBLEMS)
async def delete(highlight_id: HighlightIdPath, user: CurrentUser, gw: Gw) -> Accepted:
    """Delete a highlight; its stories are untouched."""
    await commands.run_command(gw, commands.delete_highlight, user, highlight_id)
    return Accepted()


@router.post("/highlights/{highlight_id}/stories", operation_id="add_highlight_story",
             status_code=202, response_model=Accepted,
             responses=WRITE_PROBLEMS)
async def add_story(highlight_id: HighlightIdPath, request: HighlightStoryRequest,
                    user: CurrentUser, gw: Gw) -> Accepted:
    """Append one of the caller's active stories to a highlight."""
    await commands.run_command(gw, commands.add_to_highlight, user, highlight_id,
                               request.story_id)
    return Accepted()


@router.delete("/highlights/{highlight_id}/stories/{story_id}", operation_id="remove_highlight_story",
               status_code=202,
               response_model=Accepted, responses=WRITE_PROBLEMS)
async def remove_story(highlight_id: HighlightIdPath, story_id: StoryIdPath, user: CurrentUser,
                       gw: Gw) -> Accepted:
    """Take a story out of a highlight."""
    await commands.run_command(gw, commands.remove_from_highlight, user, highlight_id, story_id)
    return Accepted()


@router.get("/users/{user_id}/highlights", operation_id="list_highlights",
            response_model=HighlightList, responses=READ_PROBLEMS)
def highlights_of(user_id: UserIdPath, user: CurrentUser, gw: Gw, limit: Limit = 20,
                  cursor: Cursor = None) -> HighlightList:
    """The user's highlights in creation order, each with the stories the caller may see;
    others see no empty highlights."""
    resource = f"highlights:{user_id}"
    after = gw.cursors.open(cursor, user, resource) if cursor else None
    page = highlights_for(gw.models, user, user_id, now_ms(), after, limit)
    return HighlightList(
        items=present_highlights(gw, user, page.items),
        next_cursor=gw.cursors.seal(user, resource, page.after) if page.after else None,
    )


@router.get("/users/{user_id}/highlights/{highlight_id}", operation_id="get_highlight",
            response_model=HighlightOut,
            responses=READ_PROBLEMS)
def highlight(user_id: UserIdPath, highlight_id: HighlightIdPath, user: CurrentUser,
              gw: Gw) -> HighlightOut:
    """One highlight of the user, as listed by `GET /api/v1/users/{user_id}/highlights`: a
    404 when it does not exist or holds nothing the caller may see."""
    found = highlight_for(gw.models, user, user_id, highlight_id, now_ms())
    if found is None:
        raise not_found()
    return present_highlights(gw, user, [found])[0]


def present_highlights(gw: Gateway, user: str, views: list[HighlightView]) -> list[HighlightOut]:
    """Highlights as this user may see them, with the media keys of their stories."""
    keys = gw.media_keys.of([s.story_id for view in views for s in view.stories
                             if s.renditions])
    return [
        HighlightOut(
            highlight_id=view.highlight.highlight_id,
            title=view.highlight.title,
            stories=[StoryOut.model_validate(gw.presenter.story(s, user, keys.get(s.story_id)))
                     for s in view.stories],
            stories_truncated=view.stories_truncated,
        )
        for view in views
    ]


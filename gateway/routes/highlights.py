"""Highlights: the owner's collections of stories that outlive expiry."""

from __future__ import annotations

from fastapi import APIRouter

from core.clock import now_ms
from gateway import commands
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
from gateway.reads import highlights_for
from gateway.routes.deps import (
    READ_PROBLEMS,
    WRITE_PROBLEMS,
    CurrentUser,
    GatewayRoute,
    Gw,
    HighlightIdPath,
    StoryIdPath,
    UserIdPath,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["highlights"], route_class=GatewayRoute)


@router.post("/highlights", status_code=202, response_model=HighlightAccepted,
             responses=WRITE_PROBLEMS)
async def create(request: HighlightRequest, user: CurrentUser, gw: Gw) -> HighlightAccepted:
    """Gather some of the caller's active stories into a new highlight."""
    command = await commands.in_thread(commands.create_highlight, gw, user, request)
    await gw.emit(command)
    return HighlightAccepted(highlight_id=command.record["highlight_id"])


@router.patch("/highlights/{highlight_id}", status_code=202, response_model=Accepted,
              responses=WRITE_PROBLEMS)
async def change(highlight_id: HighlightIdPath, request: HighlightChange, user: CurrentUser,
                 gw: Gw) -> Accepted:
    """Rename a highlight and/or reorder its stories."""
    await commands.run_command(gw, commands.change_highlight, user, highlight_id, request)
    return Accepted()


@router.delete("/highlights/{highlight_id}", status_code=202, response_model=Accepted,
               responses=WRITE_PROBLEMS)
async def delete(highlight_id: HighlightIdPath, user: CurrentUser, gw: Gw) -> Accepted:
    """Delete a highlight; its stories are untouched."""
    await commands.run_command(gw, commands.delete_highlight, user, highlight_id)
    return Accepted()


@router.post("/highlights/{highlight_id}/stories", status_code=202, response_model=Accepted,
             responses=WRITE_PROBLEMS)
async def add_story(highlight_id: HighlightIdPath, request: HighlightStoryRequest,
                    user: CurrentUser, gw: Gw) -> Accepted:
    """Append one of the caller's active stories to a highlight."""
    await commands.run_command(gw, commands.add_to_highlight, user, highlight_id,
                               request.story_id)
    return Accepted()


@router.delete("/highlights/{highlight_id}/stories/{story_id}", status_code=202,
               response_model=Accepted, responses=WRITE_PROBLEMS)
async def remove_story(highlight_id: HighlightIdPath, story_id: StoryIdPath, user: CurrentUser,
                       gw: Gw) -> Accepted:
    """Take a story out of a highlight."""
    await commands.run_command(gw, commands.remove_from_highlight, user, highlight_id, story_id)
    return Accepted()


@router.get("/users/{user_id}/highlights", response_model=HighlightList, responses=READ_PROBLEMS)
def highlights_of(user_id: UserIdPath, user: CurrentUser, gw: Gw) -> HighlightList:
    """The user's highlights with the stories the caller may see."""
    found = highlights_for(gw.models, user, user_id, now_ms())
    keys = gw.media_keys.of([s.story_id for _, stories in found for s in stories if s.renditions])
    return HighlightList(highlights=[
        HighlightOut(highlight_id=h.highlight_id, title=h.title,
                     stories=[StoryOut.model_validate(gw.presenter.story(s, user,
                                                                         keys.get(s.story_id)))
                              for s in stories])
        for h, stories in found
    ])

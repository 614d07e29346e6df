"""The social graph: follows and the close-friends list."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from gateway import commands
from gateway.models import Accepted, CloseFriendsRequest, Friend, FriendPage
from gateway.reads import page_after
from gateway.routes.deps import (
    READ_PROBLEMS,
    WRITE_PROBLEMS,
    CurrentUser,
    Cursor,
    GatewayRoute,
    Gw,
    Limit,
    UserIdPath,
    no_content,
    no_content_response,
)

__all__ = ["router"]

SELF = no_content_response("The caller named themselves: nothing is recorded")
router = APIRouter(prefix="/api/v1", tags=["social"], route_class=GatewayRoute)


@router.put("/users/{user_id}/follow", operation_id="follow_user", status_code=202, response_model=Accepted,
            responses={**WRITE_PROBLEMS, **SELF})
async def follow(user_id: UserIdPath, user: CurrentUser, gw: Gw) -> Accepted | Response:
    """Follow someone: their stories reach the caller's tray."""
    done = await commands.run_command(gw, commands.follow, user, user_id)
    return Accepted() if done else no_content()


@router.delete("/users/{user_id}/follow", operation_id="unfollow_user",
               status_code=202, response_model=Accepted,
               responses={**WRITE_PROBLEMS, **SELF})
async def unfollow(user_id: UserIdPath, user: CurrentUser, gw: Gw) -> Accepted | Response:
    """Stop following someone: their stories leave the caller's tray."""
    done = await commands.run_command(gw, commands.unfollow, user, user_id)
    return Accepted() if done else no_content()


@router.put("/me/close-friends", operation_id="replace_close_friends",
            status_code=202, response_model=Accepted,
            responses=WRITE_PROBLEMS)
async def set_close_friends(request: CloseFriendsRequest, user: CurrentUser, gw: Gw) -> Accepted:
    """Replace the caller's close-friends list (later CLOSE_FRIENDS stories use it)."""
    await commands.run_command(gw, commands.set_close_friends, user, request)
    return Accepted()


@router.get("/me/close-friends", operation_id="list_close_friends",
            response_model=FriendPage, responses=READ_PROBLEMS)
def close_friends(user: CurrentUser, gw: Gw, limit: Limit = 100,
                  cursor: Cursor = None) -> FriendPage:
    """The caller's close-friends list as the worker last folded it, in user id order (a PUT
    shows here once folded)."""
    after = gw.cursors.open(cursor, user, "close-friends") if cursor else None
    friends = sorted(gw.models.redis.close_friends(user))
    page = page_after(friends, lambda friend: [friend], after, limit)
    return FriendPage(
        items=[Friend(user_id=friend) for friend in page.items],
        next_cursor=gw.cursors.seal(user, "close-friends", page.after) if page.after else None,
    )

"""The social graph: follows and the close-friends list."""

from __future__ import annotations

from fastapi import APIRouter

from gateway import commands
from gateway.models import Accepted, CloseFriendsRequest
from gateway.routes.deps import WRITE_PROBLEMS, CurrentUser, GatewayRoute, Gw, UserIdPath

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["social"], responses=WRITE_PROBLEMS, route_class=GatewayRoute)


@router.put("/users/{user_id}/follow", status_code=202, response_model=Accepted)
async def follow(user_id: UserIdPath, user: CurrentUser, gw: Gw) -> Accepted:
    """Follow someone: their stories reach the caller's tray."""
    await commands.run_command(gw, commands.follow, user, user_id)
    return Accepted()


@router.delete("/users/{user_id}/follow", status_code=202, response_model=Accepted)
async def unfollow(user_id: UserIdPath, user: CurrentUser, gw: Gw) -> Accepted:
    """Stop following someone: their stories leave the caller's tray."""
    await commands.run_command(gw, commands.unfollow, user, user_id)
    return Accepted()


@router.put("/me/close-friends", status_code=202, response_model=Accepted)
async def set_close_friends(request: CloseFriendsRequest, user: CurrentUser, gw: Gw) -> Accepted:
    """Replace the caller's close-friends list (later CLOSE_FRIENDS stories use it)."""
    await commands.run_command(gw, commands.set_close_friends, user, request)
    return Accepted()

"""Dependencies every route shares: the process's gateway, the calling user, path parameters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.routing import APIRoute
from starlette.convertors import Convertor, register_url_convertor
from starlette.responses import Response

from gateway.access import note_user
from gateway.auth import bearer_token
from gateway.context import Gateway
from gateway.models import CURSOR_PATTERN, PATH_ID_PATTERN, UUID_PATTERN
from gateway.problems import problem_responses
from gateway.ratelimit import Handler, with_quota_headers

__all__ = [
    "GatewayRoute",
    "Gw",
    "CurrentUser",
    "StoryIdPath",
    "HighlightIdPath",
    "UserIdPath",
    "StickerIdPath",
    "Limit",
    "Cursor",
    "READ_PROBLEMS",
    "WRITE_PROBLEMS",
    "created_at",
    "no_content",
    "no_content_response",
]


class StoryIdConvertor(Convertor[str]):
    """Routes `/stories/{story_id:story_id}` only for a story id, so that `/stories/tray` is
    never taken for a story: a method the tray does not have is a 405, not an invalid id."""

    regex = UUID_PATTERN.strip("^$")

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("story_id", StoryIdConvertor())


class GatewayRoute(APIRoute):
    """A route that documents a 429 counts against a rate limit: its answers tell the quota
    left (RateLimit-Policy, RateLimit). Any other route (the tray, story lists) is FastAPI's
    own, untouched."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        return with_quota_headers(handler) if 429 in self.responses else handler


async def _gateway(request: Request) -> Gateway:
    return request.app.state.gateway


async def _current_user(request: Request) -> str:
    """The token's subject: the only user a request can act as. One plain dependency on the
    hot path; the OpenAPI document declares the bearer scheme itself (gateway.app)."""
    token = bearer_token(request.headers.get("authorization"))
    user: str = await request.app.state.gateway.tokens.user_async(token)
    note_user(request.scope, user)
    return user


Gw = Annotated[Gateway, Depends(_gateway)]
CurrentUser = Annotated[str, Depends(_current_user)]
StoryIdPath = Annotated[str, Path(pattern=UUID_PATTERN, description="A story id (lowercase uuid)")]
HighlightIdPath = Annotated[str, Path(pattern=UUID_PATTERN, description="A highlight id")]
UserIdPath = Annotated[str, Path(pattern=PATH_ID_PATTERN, description="A user id")]
StickerIdPath = Annotated[str, Path(pattern=PATH_ID_PATTERN, description="A sticker id")]
Cursor = Annotated[
    str | None,
    Query(max_length=512, json_schema_extra={"pattern": CURSOR_PATTERN},
          description="`next_cursor` of the previous page; one that this list did not issue to "
          "the caller is a 400"),
]
Limit = Annotated[int, Query(ge=1, le=100, description="Items per page (1 to 100)")]


READ_PROBLEMS = problem_responses(400, 401, 404, 422, 503)
WRITE_PROBLEMS = problem_responses(400, 401, 404, 413, 422, 429, 503)


def created_at(what: str) -> dict[int | str, dict[str, Any]]:
    """The 202 of an operation that creates something readable later: `Location` names it."""
    return {202: {"headers": {"Location": {
        "description": f"Path of the new {what}, readable once the worker has folded it",
        "schema": {"type": "string"},
    }}}}


def no_content() -> Response:
    """The answer to an author engaging with their own story: nothing to record."""
    return Response(status_code=204)


def no_content_response(why: str) -> dict[int | str, dict[str, str]]:
    return {204: {"description": why}}

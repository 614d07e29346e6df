"""Viewers engaging with a story: views, reactions, replies, sticker answers."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from gateway import commands
from gateway.models import Accepted, AnswerAccepted, AnswerRequest, ReactionRequest, ReplyRequest
from gateway.routes.deps import (
    WRITE_PROBLEMS,
    CurrentUser,
    GatewayRoute,
    Gw,
    StickerIdPath,
    StoryIdPath,
    no_content,
    no_content_response,
)

__all__ = ["router"]

OWN_STORY = no_content_response("The caller is the author: nothing is recorded")
router = APIRouter(prefix="/api/v1/stories/{story_id}", tags=["engagement"],
                   responses={**WRITE_PROBLEMS, **OWN_STORY}, route_class=GatewayRoute)


@router.post("/views", operation_id="view_story", status_code=202, response_model=Accepted)
async def view(story_id: StoryIdPath, user: CurrentUser, gw: Gw) -> Accepted | Response:
    """The caller opened the story."""
    done = await commands.run_command(gw, commands.view, user, story_id)
    return Accepted() if done else no_content()


@router.post("/reactions", operation_id="react_to_story", status_code=202, response_model=Accepted)
async def react(story_id: StoryIdPath, request: ReactionRequest, user: CurrentUser,
                gw: Gw) -> Accepted | Response:
    """A quick emoji reaction; a later one replaces it."""
    done = await commands.run_command(gw, commands.react, user, story_id, request.emoji)
    return Accepted() if done else no_content()


@router.post("/replies", operation_id="reply_to_story", status_code=202, response_model=Accepted)
async def reply(story_id: StoryIdPath, request: ReplyRequest, user: CurrentUser,
                gw: Gw) -> Accepted | Response:
    """Record that the caller replied privately (the message lives in messaging)."""
    done = await commands.run_command(gw, commands.reply, user, story_id, request.message_id)
    return Accepted() if done else no_content()


@router.post("/stickers/{sticker_id}/answers", operation_id="answer_sticker",
             status_code=202, response_model=AnswerAccepted)
async def answer(story_id: StoryIdPath, sticker_id: StickerIdPath, request: AnswerRequest,
                 user: CurrentUser, gw: Gw) -> AnswerAccepted | Response:
    """Answer a poll, quiz, question or slider; the first answer counts."""
    command, correct = await commands.in_thread(
        commands.answer, gw, user, story_id, sticker_id, request)
    if command is None:
        return no_content()
    await gw.emit(command)
    return AnswerAccepted(correct=correct)

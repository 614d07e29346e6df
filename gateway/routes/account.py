"""The caller's account: a copy of it, and erasing it."""

from __future__ import annotations

from fastapi import APIRouter

from gateway import commands
from gateway.commands import WRITE
from gateway.export import account_export
from gateway.models import Accepted, AccountExport
from gateway.present import JsonBody
from gateway.problems import problem_responses
from gateway.routes.deps import CurrentUser, GatewayRoute, Gw

__all__ = ["router"]

ERASE_PROBLEMS = problem_responses(400, 401, 413, 422, 429, 503)
EXPORT_PROBLEMS = problem_responses(400, 401, 422, 429, 503)
router = APIRouter(prefix="/api/v1", tags=["account"], route_class=GatewayRoute)


@router.delete("/me", operation_id="erase_account", status_code=202, response_model=Accepted,
               responses=ERASE_PROBLEMS)
async def erase_me(user: CurrentUser, gw: Gw) -> Accepted:
    """Erase the caller's account: their stories (with their media and keys), highlights,
    follows, close friends, and their identity in other people's viewer lists and answers.
    Accepted once the log holds the erasure; done within seconds (docs/privacy.md). From then
    on the caller's tokens answer 401."""
    await commands.erase_account(gw, user, "SELF")
    return Accepted()


@router.get("/me/export", operation_id="export_account", response_model=AccountExport,
            responses=EXPORT_PROBLEMS)
def export_me(user: CurrentUser, gw: Gw) -> JsonBody:
    """A machine-readable copy of everything the product holds about the caller that they may
    see: their stories and highlights, follows both ways, close friends, and their reactions and
    written answers on other people's stories (docs/privacy.md). Counted against the caller's
    write quota: it reads as much as many pages."""
    gw.limiter.spend(user, WRITE)
    return JsonBody(account_export(gw, user),
                    headers={"Content-Disposition": 'attachment; filename="stories-export.json"'})

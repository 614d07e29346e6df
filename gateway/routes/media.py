"""Uploads: the client gets a presigned URL; media bytes never pass through the gateway."""

from __future__ import annotations

from fastapi import APIRouter

from gateway import commands
from gateway.models import UploadGrant, UploadRequest
from gateway.routes.deps import WRITE_PROBLEMS, CurrentUser, GatewayRoute, Gw

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["media"], responses=WRITE_PROBLEMS, route_class=GatewayRoute)


@router.post("/media/uploads", operation_id="create_upload", status_code=201, response_model=UploadGrant)
def create_upload(request: UploadRequest, user: CurrentUser, gw: Gw) -> UploadGrant:
    """A short-lived PUT URL for one photo or video, and the media id to post it with."""
    return commands.grant_upload(gw, user, request)

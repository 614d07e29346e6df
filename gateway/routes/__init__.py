"""HTTP routes, one module per resource; each handler calls a read or a command, nothing more."""

from __future__ import annotations

from gateway.routes import account, engagement, health, highlights, media, social, stories

__all__ = ["ROUTERS"]

ROUTERS = (
    health.router,
    media.router,
    stories.router,
    engagement.router,
    social.router,
    highlights.router,
    account.router,
)

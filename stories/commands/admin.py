"""`stories admin`: support and operator commands over one story or one user.

`show-story` and `show-user` print as JSON everything the read models, the media keyspace and
the bucket hold about it (stories/support.py gathers it). What people wrote is redacted unless
`--content` is given; keys are never printed, only whether they exist. `erase-user` erases an
account (docs/privacy.md).
"""

from __future__ import annotations

from typing import Annotated

import orjson
import typer

from core.settings import get_settings

__all__ = ["app"]

app = typer.Typer(help="Support: what the product holds about one story or one user; erasure.",
                  no_args_is_help=True)

ContentOption = Annotated[
    bool, typer.Option("--content", help="Show what people wrote (text, captions, sticker "
                                         "prompts and options, titles) instead of <redacted>"),
]


def _print(found: dict[str, object]) -> None:
    typer.echo(orjson.dumps(found, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode())


@app.command("show-story")
def show_story(
    story_id: Annotated[str, typer.Argument(help="The story's id")],
    content: ContentOption = False,
) -> None:
    """Everything held about one story: active and record stores, media job, key, objects."""
    from media.clients import media_clients
    from projections.runtime import Runtime
    from stories import support

    runtime = Runtime(get_settings())
    _print(support.show_story(runtime, media_clients(runtime), story_id, content))


@app.command("show-user")
def show_user(
    user_id: Annotated[str, typer.Argument(help="The user's id")],
    content: ContentOption = False,
) -> None:
    """Everything held about one user: their stories, graph, close friends, tray, highlights."""
    from projections.runtime import Runtime
    from stories import support

    _print(support.show_user(Runtime(get_settings()), user_id, content))


@app.command("erase-user")
def erase_user(user_id: Annotated[str, typer.Argument(help="The user's id")]) -> None:
    """Erase an account: emits UserErased (and a deletion of each of their stories); every read
    model drops the user within seconds, and their tokens are refused from then on."""
    from projections.runtime import Runtime
    from stories import support

    runtime = Runtime(get_settings())
    try:
        _print(support.erase_user(runtime, user_id))
    finally:
        runtime.close()

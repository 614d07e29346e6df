"""`stories dlq`: list, show and redrive dead letters (streams/dead_letters/ does the work).

Event content (story text, captions, sticker prompts and options, free-text answers, titles) is
never printed: such fields show as `<redacted>`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.console import Console

from core.clients import kafka_config
from core.settings import get_settings

if TYPE_CHECKING:
    from streams.dead_letters import RedriveReport

__all__ = ["app"]

app = typer.Typer(
    help="Dead letters: list them, show one (content redacted), send the valid ones back.",
    no_args_is_help=True,
)
console = Console(stderr=True)

ReasonOption = Annotated[
    str | None,
    typer.Option("--reason", help="A class (decode, invalid, projection, other) or a substring "
                                  "of the reason, case-insensitive"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per line")]


def _since(text: str | None) -> datetime | None:
    from streams.dead_letters import parse_since

    if text is None:
        return None
    try:
        return parse_since(text)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--since") from None


def _when(iso: str | None) -> str:
    if iso is None:
        return "-"
    moment = datetime.fromisoformat(iso).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _where(source: dict[str, Any]) -> str:
    if source["topic"] is None:
        return "?"
    return f"{source['topic']}[{_or_q(source['partition'])}]@{_or_q(source['offset'])}"


def _line(entry: dict[str, Any]) -> str:
    mark = "  (redriven)" if entry["redriven"] else ""
    return (f"{entry['id']}  {_when(entry['time'])}  {_where(entry['source'])}  "
            f"{entry['event'] or '-'}  [{entry['class']}] {entry['reason']}{mark}"
            f"{_request(entry)}")


def _request(entry: dict[str, Any]) -> str:
    """`  request=ID  trace=ID`, of those the dead letter carries."""
    shown = {"request": entry["request_id"], "trace": entry["trace_id"]}
    return "".join(f"  {name}={value}" for name, value in shown.items() if value is not None)


def _or_q(value: object) -> str:
    return "?" if value is None else str(value)


@app.command("list")
def list_(
    reason: ReasonOption = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only those set aside since: ISO-8601 (UTC when no zone) "
                                     "or a span back from now, e.g. 30m, 2h, 7d"),
    ] = None,
    json: JsonOption = False,
) -> None:
    """One line per dead letter: id, when, source, event, class and reason, then the request
    id and trace id of the request it was sent for, when it says.

    The id is partition:offset on the dead-letter topic; the source is the original
    topic, partition and offset. Read from the first offset, oldest first per partition.
    """
    from streams import dead_letters

    settings = get_settings()
    start = _since(since)
    letters = dead_letters.read_dead_letters(kafka_config(settings), settings.topic_prefix)
    done = dead_letters.redriven_ids(kafka_config(settings), settings.topic_prefix)
    chosen = dead_letters.select(letters, reason, start)
    for letter in chosen:
        entry = dead_letters.summary(letter, redriven=letter.id in done)
        typer.echo(orjson.dumps(entry).decode() if json else _line(entry))
    console.print(f"{len(chosen)} of {len(letters)} dead letters", markup=False)


@app.command()
def show(
    letter_id: Annotated[str, typer.Argument(metavar="ID", help="partition:offset, as listed")],
    json: JsonOption = False,
) -> None:
    """Everything about one dead letter, its content redacted.

    Origin, reason, the request id and trace id it was sent with, headers, key, and the event
    as decoded today (or the size and a hex prefix of bytes that are no event).
    """
    from streams import dead_letters

    settings = get_settings()
    try:
        letter = dead_letters.find_dead_letter(kafka_config(settings), settings.topic_prefix,
                                               letter_id)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="ID") from None
    if letter is None:
        console.print(f"no dead letter {letter_id}", style="red", markup=False)
        raise typer.Exit(1)
    done = dead_letters.redriven_ids(kafka_config(settings), settings.topic_prefix)
    shown = dead_letters.details(letter, redriven=letter.id in done)
    if json:
        typer.echo(orjson.dumps(shown).decode())
        return
    for name in ("id", "time", "source", "key", "event", "reason", "class", "request_id",
                 "trace_id", "redriven", "valid_now", "problem_now", "size"):
        value = shown[name]
        if name == "source":
            value = _where(value)
        typer.echo(f"{name + ':':13}{'-' if value is None else value}")
    typer.echo("headers:")
    for header, value in shown["headers"].items():
        typer.echo(f"  {header}: {value}")
    if "record" in shown:
        typer.echo("record:")
        typer.echo(orjson.dumps(shown["record"], option=orjson.OPT_INDENT_2).decode())
    else:
        typer.echo(f"{'hex_prefix:':13}{shown['hex_prefix'] or '-'}")


@app.command()
def redrive(
    reason: ReasonOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be sent; send "
                                                            "nothing")] = False,
    json: JsonOption = False,
) -> None:
    """Send the dead letters that are valid now back to their topics, each exactly once.

    A dead letter goes back with its key when it decodes and passes validation today; the
    others stay. Prints what was sent and what was skipped, and why.
    """
    from streams import dead_letters

    settings = get_settings()
    report = dead_letters.redrive(kafka_config(settings), settings.topic_prefix, reason,
                                  dry_run=dry_run)
    if json:
        typer.echo(orjson.dumps(report.as_dict()).decode())
    else:
        _print_report(report)


def _print_report(report: RedriveReport) -> None:
    verb = "would send" if report.dry_run else "sent"
    for letter_id in report.sent:
        typer.echo(f"{verb} {letter_id}")
    for skipped in report.skipped:
        typer.echo(f"skipped {skipped.id}: {skipped.why}")
    typer.echo(f"{verb} {len(report.sent)}, skipped {len(report.skipped)} "
               f"(already redriven {report.already_redriven}, "
               f"still invalid {report.still_invalid})"
               + (" - dry run, nothing was sent" if report.dry_run else ""))

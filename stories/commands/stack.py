"""`stories up`, `down`, `status` and `init`: the local stack and what it needs before use."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from core.settings import Settings, cluster_settings
from infra.stack import ServiceStatus, StackError
from infra.stack import down as stop_stack
from infra.stack import status as stack_status
from infra.stack import up as start_stack

__all__ = ["initialize", "show_status", "start", "stop"]


def start(settings: Settings, console: Console, services: list[str] | None, init: bool) -> None:
    """Start the stack (or the named services), then initialise it when all were started."""
    try:
        start_stack(settings, console, services)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    except StackError as error:
        console.print(str(error), style="red", markup=False)
        raise typer.Exit(1) from None
    if init and not services:
        initialize(settings, console)


def stop(settings: Settings, console: Console, services: list[str] | None) -> None:
    """Stop what `stories up` started, and the local cluster too when it runs (and all are
    asked for); an unknown service name is a bad parameter."""
    try:
        stop_stack(settings, console, services)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    cluster = cluster_settings()
    if not services and cluster.state_dir != settings.state_dir and _started_here(cluster):
        console.print("the local cluster:")
        stop_stack(cluster, console, None)


def _started_here(settings: Settings) -> bool:
    """Whether `up` recorded a process under these settings' state folder."""
    return any(settings.state_dir.glob("*/*.pid"))


def show_status(settings: Settings) -> None:
    """Print one row per service on stdout; exit 1 unless every service is healthy."""
    services = stack_status(settings)
    Console().print(_status_table(services))
    if not all(service.healthy for service in services):
        raise typer.Exit(1)


def _status_table(services: list[ServiceStatus]) -> Table:
    """Each service's address, process and health, yes in green and no in red."""
    table = Table("service", "address", "running", "healthy", "pid", "detail")
    for service in services:
        table.add_row(
            service.name,
            service.address,
            _yes(service.running),
            _yes(service.healthy),
            str(service.pid or "-"),
            service.detail,
        )
    return table


def _yes(flag: bool) -> str:
    """A flag as a coloured yes or no."""
    return "[green]yes[/green]" if flag else "[red]no[/red]"


def initialize(settings: Settings, console: Console) -> None:
    """Create what is missing (topics, CQL schema, bucket) and say what was done."""
    from stories.bootstrap import init_all  # the engines' clients: status and down stay quick

    report = init_all(settings)
    console.print(
        f"topics created: {len(report.topics_created)}, "
        f"read models in keyspace {report.read_model_keyspace} (migrated), "
        f"bucket {'created' if report.bucket_created else 'present'}"
    )

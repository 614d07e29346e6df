"""`stories worker`: run the projection worker, supervised or as the one process itself."""

from __future__ import annotations

import typer

from core.settings import Settings
from streams.supervisor import child_environments, supervise, watch_parent, worker_child_argv

__all__ = ["run"]


def run(settings: Settings, supervised: bool, processes: int | None) -> None:
    """Supervise `processes` worker children, or be the single worker process."""
    if supervised:
        count = processes or settings.worker_processes
        environments = child_environments(count, settings.worker_metrics_port)
        raise typer.Exit(supervise(worker_child_argv(), environments))
    if processes not in (None, 1):
        raise typer.BadParameter("--no-supervise runs exactly one process", param_hint="--processes")
    _run_one(settings)


def _run_one(settings: Settings) -> None:
    """The faust app is imported only by the process that runs it; a supervisor stays light."""
    from projections.runtime import Runtime
    from stories.worker import run_worker

    watch_parent()  # a supervised child on a system without prctl
    run_worker(Runtime(settings))

"""Progress display for long commands: rich on stderr, silent with ``-q`` or when not a TTY."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from agrilend.cli.options import is_quiet


class Steps:
    """A progress bar over named steps: ``with steps("loading inputs"): ...``."""

    def __init__(self, progress: Progress | None, task: TaskID | None) -> None:
        self._progress = progress
        self._task = task

    def advance(self, description: str) -> None:
        """Mark the previous step done and show ``description`` as the current one."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=description, advance=1)

    @contextmanager
    def __call__(self, description: str) -> Iterator[None]:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=description)
        yield
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)


@contextmanager
def progress_steps(total: int) -> Iterator[Steps]:
    """Show a transient bar of ``total`` steps on stderr when a person is watching."""
    console = Console(stderr=True)
    if is_quiet() or not console.is_terminal:
        yield Steps(None, None)
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("starting", total=total)
        yield Steps(progress, task)


__all__ = ["Steps", "progress_steps"]

"""Progress display for long commands: rich on stderr, silent with ``-q`` or when not a TTY.

Two shapes, one place: :func:`progress_steps` (named steps) and :func:`progress_bar` (a count
of things done, with their rate and the time left).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
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


@contextmanager
def progress_bar(what: str, *, unit: str = "") -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` callback drawing a bar of ``what`` on stderr.

    With ``unit`` (e.g. ``"parcels"``) the bar also shows the rate, counted from the first
    call (things finished before this run do not count), and the time left. Silent with
    ``-q`` or when stderr is not a terminal.
    """
    console = Console(stderr=True)
    if is_quiet() or not console.is_terminal:
        yield lambda done, total: None
        return
    columns = [TextColumn(what), BarColumn(), MofNCompleteColumn()]
    if unit:
        columns += [TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA")]
        columns += [TimeRemainingColumn()]
    else:
        columns += [TimeElapsedColumn()]
    start: dict[str, float] = {}
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(what, total=None, rate="")

        def update(done: int, total: int) -> None:
            now = time.monotonic()
            if "t" not in start:
                start.update(t=now, done=done)
            elapsed = now - start["t"]
            rate = (done - start["done"]) / elapsed if elapsed > 0 else 0.0
            text = f"{rate:,.0f} {unit}/s" if unit else ""
            bar.update(task, completed=done, total=total, rate=text)

        yield update

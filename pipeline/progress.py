"""Progress bars (rich, on stderr), silenced by ``--quiet``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager


class _SilentBar:
    def advance(self, amount: float = 1) -> None:
        """Do nothing: progress output is off."""


class _RichBar:
    def __init__(self, progress, task_id) -> None:
        self._progress = progress
        self._task_id = task_id

    def advance(self, amount: float = 1) -> None:
        self._progress.advance(self._task_id, amount)


def _rate_column():
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """Items per second (e.g. jets/s for the generator)."""

        def render(self, task) -> Text:
            speed = task.finished_speed or task.speed
            return Text("" if speed is None else f"{speed:,.1f}/s", style="progress.data.speed")

    return RateColumn()


def make_progress(quiet: bool) -> Callable[[str, float | None], AbstractContextManager]:
    """Return ``progress(description, total)``, a context manager yielding a bar with ``advance``."""

    @contextmanager
    def progress(description: str, total: float | None = None) -> Iterator:
        if quiet:
            yield _SilentBar()
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        columns = [
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _rate_column(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        ]
        with Progress(*columns, console=Console(stderr=True)) as bar_group:
            task_id = bar_group.add_task(description, total=total)
            yield _RichBar(bar_group, task_id)

    return progress

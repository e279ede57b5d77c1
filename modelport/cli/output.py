"""How the platform commands talk to people: consoles, transfer bars, tables, JSON.

Progress and status go to stderr, results to stdout, so ``modelport … --json | jq`` works.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.filesize import decimal
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

Row = dict[str, Any]
F = TypeVar("F", bound=Callable[..., Any])


def console(*, stderr: bool = False) -> Console:
    """A console that never wraps lines nor guesses colours (output stays greppable)."""
    return Console(stderr=stderr, soft_wrap=True, highlight=False)


def note(message: str) -> None:
    """A status line on stderr (plain text; markup in ``message`` is not interpreted)."""
    console(stderr=True).print(escape(message))


class BarProgress:
    """A :class:`modelport.client.Progress` drawing one rich task."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress, self._task = progress, task

    def start(self, total: int | None) -> None:
        self._progress.update(self._task, total=total)

    def advance(self, size: int) -> None:
        self._progress.advance(self._task, size)

    def finish(self) -> None:
        """Mark the bar complete (its total may have been an estimate)."""
        done = self._progress.tasks[self._task].completed
        self._progress.update(self._task, total=done, completed=done)


def download_option(what: str) -> Callable[[F], F]:
    """The required ``-o/--output`` option of a checked download: the ``what`` to write."""
    return click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
                        required=True,
                        help=f"{what} to write (replaced only once the bytes check out).")


@contextmanager
def transfer(description: str) -> Iterator[BarProgress]:
    """A byte-counting progress bar on stderr for the duration of the block."""
    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
        TransferSpeedColumn(), TimeRemainingColumn(), console=console(stderr=True),
    )
    with bar:
        progress = BarProgress(bar, bar.add_task(escape(description), total=None))
        yield progress
        progress.finish()


def size(value: Any) -> str:
    """A byte count for people (``12.3 MB``); ``?`` when it is not a number."""
    return decimal(int(value)) if isinstance(value, int) else "?"


def when(value: Any) -> str:
    """An ISO timestamp to the minute, UTC as given (``2024-05-01 12:00``)."""
    text = str(value or "")
    return text[:16].replace("T", " ") if len(text) >= 16 else text or "-"


def emit_json(value: Any) -> None:
    """``value`` as indented JSON on stdout."""
    click.echo(json.dumps(value, indent=1, ensure_ascii=False, default=str))


def listing(
    items: Sequence[Row], as_json: bool, cells: Callable[[Row], Row],
    columns: Sequence[tuple[str, str]], empty: str,
) -> None:
    """What a ``list`` command prints: ``items`` as the portal's JSON with ``as_json``, else a
    :func:`table` of each item with the display ``cells(item)`` added."""
    if as_json:
        emit_json(items)
        return
    table([{**item, **cells(item)} for item in items], columns, empty)


def table(rows: Sequence[Row], columns: Sequence[tuple[str, str]], empty: str) -> None:
    """Rows as a table on stdout: ``columns`` are (heading, key); ``empty`` when none."""
    if not rows:
        click.echo(empty)
        return
    grid = Table(box=None, pad_edge=False, show_edge=False)
    for heading, _ in columns:
        grid.add_column(heading, overflow="fold")
    for row in rows:
        grid.add_row(*(escape(_cell(row.get(key))) for _, key in columns))
    console().print(grid)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)

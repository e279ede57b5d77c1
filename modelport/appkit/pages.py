"""Pages of widgets: plain declarative data that the WebUI renders.

A widget names what it shows (an identifier) or what it runs (a procedure); nothing here
draws anything. ``describe()`` gives the JSON form the WebUI reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal

from modelport.appkit.declarations import DataDecl, ProcedureDecl, SetDecl

ChartKind = Literal["bar", "line", "pie"]


def _name(ref: str | SetDecl | DataDecl | ProcedureDecl) -> str:
    return ref if isinstance(ref, str) else ref.name


@dataclass(frozen=True)
class _Widget:
    """Base of the widgets: ``describe()`` is ``{"widget": KIND}`` and then the fields, in
    their declared order."""

    KIND: ClassVar[str]

    def describe(self) -> dict[str, Any]:
        return {"widget": self.KIND, **{f.name: getattr(self, f.name) for f in fields(self)}}


@dataclass(frozen=True)
class Table(_Widget):
    """A table of a set, parameter or result; ``editable`` lets the user change inputs.

    ``columns`` names the set of the identifier's domain whose elements become the grid's
    columns (a pivot); None: the last set for identifiers over two or more sets."""

    KIND: ClassVar[str] = "table"

    identifier: str
    title: str = ""
    editable: bool = True
    columns: str | None = None


@dataclass(frozen=True)
class ScalarInput(_Widget):
    """An input field for one scalar parameter."""

    KIND: ClassVar[str] = "scalar"

    identifier: str
    label: str = ""


@dataclass(frozen=True)
class Chart(_Widget):
    """A chart of an indexed parameter or result; ``x`` names the set on the x axis."""

    KIND: ClassVar[str] = "chart"

    identifier: str
    chart: ChartKind = "bar"
    x: str | None = None
    title: str = ""


@dataclass(frozen=True)
class Text(_Widget):
    """A block of Markdown text."""

    KIND: ClassVar[str] = "text"

    text: str


@dataclass(frozen=True)
class Button(_Widget):
    """A button that runs a procedure."""

    KIND: ClassVar[str] = "button"

    procedure: str
    label: str = ""


Widget = Table | ScalarInput | Chart | Text | Button


def table(ref: str | SetDecl | DataDecl, title: str = "", *, editable: bool = True,
          columns: str | SetDecl | None = None) -> Table:
    """A table widget for a set, parameter or result; ``columns`` picks the set spread over
    the columns of an identifier over two or more sets."""
    return Table(_name(ref), title, editable, None if columns is None else _name(columns))


def scalar(ref: str | DataDecl, label: str = "") -> ScalarInput:
    """A scalar input widget for a scalar parameter."""
    return ScalarInput(_name(ref), label)


def chart(
    ref: str | DataDecl,
    chart: ChartKind = "bar",
    *,
    x: str | SetDecl | None = None,
    title: str = "",
) -> Chart:
    """A chart widget; ``x`` picks the set along the x axis of a multi-dimensional identifier."""
    return Chart(_name(ref), chart, None if x is None else _name(x), title)


def text(markdown: str) -> Text:
    """A text widget holding Markdown."""
    return Text(markdown)


def button(ref: str | ProcedureDecl | Any, label: str = "") -> Button:
    """A button bound to a procedure, given by name, declaration or decorated function."""
    name = getattr(ref, "__modelport_procedure__", None) or _name(ref)
    return Button(name, label)


@dataclass(frozen=True)
class Page:
    """A named page with its widgets in display order."""

    name: str
    title: str
    widgets: tuple[Widget, ...]

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "widgets": [w.describe() for w in self.widgets],
        }


def make_page(name: str, title: str, widgets: Sequence[Widget]) -> Page:
    """Build a page, keeping the widgets' order."""
    return Page(name, title or name, tuple(widgets))

"""The ``App`` object that collects an app's declarations, procedures, pages and defaults."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from modelport.appkit.checks import describe_page, page_problems
from modelport.appkit.declarations import (
    DataDecl,
    DataKind,
    ProcedureDecl,
    ProcedureKind,
    SetDecl,
    ValueType,
    check_name,
    domain_names,
    value_type,
)
from modelport.appkit.errors import DeclarationError, UnknownProcedure
from modelport.appkit.pages import Page, Widget, make_page
from modelport.appkit.validation import validate
from modelport.appkit.values import BadValue, coerce

F = TypeVar("F", bound=Callable[..., Any])
DomainArg = str | SetDecl | Sequence[str | SetDecl] | None
INPUT_KINDS = frozenset({"set", "parameter"})


class App:
    """An app: its sets, parameters, results, procedures, pages and default data.

    >>> app = App(name="transport", title="Transport")
    >>> plants = app.set("plants")
    >>> supply = app.parameter("supply", plants, unit="cases", lower=0)
    """

    def __init__(self, name: str, title: str = "", *, version: str = "") -> None:
        self.name = name
        self.title = title or name
        self.version = version
        self.identifiers: dict[str, SetDecl | DataDecl] = {}
        self.procedures: dict[str, ProcedureDecl] = {}
        self.pages: list[Page] = []
        self._defaults: dict[str, Any] = {}

    # -- declarations -------------------------------------------------------------------

    def set(self, name: str, *, title: str = "") -> SetDecl:
        """Declare a set (its elements are strings) and return its declaration."""
        return self._add(SetDecl(check_name(name, "set"), title))

    def parameter(
        self,
        name: str,
        domain: DomainArg = None,
        *,
        type: str | ValueType = ValueType.REAL,
        unit: str | None = None,
        lower: float | None = None,
        upper: float | None = None,
        default: Any = None,
        required: bool = False,
        title: str = "",
    ) -> DataDecl:
        """Declare an input indexed over ``domain`` (sets or set names; none for a scalar)."""
        return self._data(
            "parameter", name, domain, type=type, unit=unit, lower=lower, upper=upper,
            default=default, required=required, title=title,
        )

    def result(
        self,
        name: str,
        domain: DomainArg = None,
        *,
        type: str | ValueType = ValueType.REAL,
        unit: str | None = None,
        lower: float | None = None,
        upper: float | None = None,
        title: str = "",
    ) -> DataDecl:
        """Declare an output indexed over ``domain``, set by procedures."""
        return self._data(
            "result", name, domain, type=type, unit=unit, lower=lower, upper=upper, title=title
        )

    def procedure(
        self, kind: ProcedureKind = "solve", *, name: str | None = None, title: str = ""
    ) -> Callable[[F], F]:
        """Decorator registering ``func(ctx)`` as a procedure of ``kind`` "session" or "solve".

        The procedure's name is the function's name unless ``name`` is given.
        """
        if kind not in ("session", "solve"):
            raise DeclarationError(f"procedure kind {kind!r} is not 'session' or 'solve'")

        def register(func: F) -> F:
            proc_name = check_name(name or func.__name__, "procedure")
            if proc_name in self.procedures:
                raise DeclarationError(f"procedure {proc_name} is declared twice")
            self.procedures[proc_name] = ProcedureDecl(proc_name, kind, func, title)
            func.__modelport_procedure__ = proc_name  # type: ignore[attr-defined]
            return func

        return register

    def page(self, name: str, title: str = "", widgets: Sequence[Widget] = ()) -> Page:
        """Add a page of widgets (checked by ``check()``) and return it."""
        check_name(name, "page")
        if any(p.name == name for p in self.pages):
            raise DeclarationError(f"page {name} is declared twice")
        page = make_page(name, title, widgets)
        self.pages.append(page)
        return page

    def defaults(self, data: Mapping[str, Any] | str | Path) -> None:
        """Set the default data, given as a mapping or a JSON file; validated now."""
        if isinstance(data, str | Path):
            data = json.loads(Path(data).read_text(encoding="utf-8"))
            assert isinstance(data, Mapping)
        self._defaults = self.validate(data)

    # -- reading ------------------------------------------------------------------------

    def default_data(self) -> dict[str, Any]:
        """A fresh, normalised copy of the default data (inputs only)."""
        return copy.deepcopy(self._defaults) if self._defaults else self.validate({})

    def validate(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Check input data (sets and parameters) and return it normalised.

        Raises DataError listing every problem, each naming the identifier and element.
        """
        return validate(self.identifiers, data, kinds=INPUT_KINDS)

    def get_procedure(self, name: str) -> ProcedureDecl:
        """The declared procedure ``name``; raises UnknownProcedure naming the known ones."""
        try:
            return self.procedures[name]
        except KeyError:
            known = ", ".join(sorted(self.procedures)) or "none"
            message = f"app {self.name} has no procedure {name!r} (has: {known})"
            raise UnknownProcedure(message) from None

    def of_kind(self, kind: str) -> list[SetDecl | DataDecl]:
        """Declarations of one kind ("set", "parameter", "result") in declaration order."""
        return [d for d in self.identifiers.values() if d.kind == kind]

    def check(self) -> list[str]:
        """Problems in the declarations that only show once all are made (pages' references)."""
        return page_problems(self)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description for the WebUI and the packer; raises DeclarationError."""
        problems = self.check()
        if problems:
            raise DeclarationError("; ".join(problems))
        return {
            "name": self.name,
            "title": self.title,
            "version": self.version,
            "identifiers": [d.describe() for d in self.identifiers.values()],
            "procedures": [p.describe() for p in self.procedures.values()],
            "pages": [describe_page(self, p) for p in self.pages],
        }

    # -- internals ----------------------------------------------------------------------

    def _add(self, decl: Any) -> Any:
        if decl.name in self.identifiers:
            raise DeclarationError(f"identifier {decl.name} is declared twice")
        self.identifiers[decl.name] = decl
        return decl

    def _data(self, kind: DataKind, name: str, domain: DomainArg, **kw: Any) -> DataDecl:
        check_name(name, kind)
        sets = domain_names(domain)
        for set_name in sets:
            if not isinstance(self.identifiers.get(set_name), SetDecl):
                raise DeclarationError(f"{kind} {name}: {set_name!r} is not a declared set")
        decl = DataDecl(name, kind, sets, **{**kw, "type": value_type(kw["type"])})
        _check_bounds(decl)
        return self._add(decl)


def _check_bounds(decl: DataDecl) -> None:
    if decl.lower is not None and decl.upper is not None and decl.lower > decl.upper:
        raise DeclarationError(f"{decl.name}: lower bound {decl.lower} exceeds upper {decl.upper}")
    if decl.type is ValueType.STRING and (decl.lower is not None or decl.upper is not None):
        raise DeclarationError(f"{decl.name}: a string identifier cannot have bounds")
    if decl.default is not None:
        try:
            coerce(decl, decl.default)
        except BadValue as exc:
            raise DeclarationError(f"{decl.name}: default {exc}") from None

"""The data a session holds: the app's inputs and results, changed only when valid.

Every change goes through the app kit's validation; a refused change raises ``DataError``
(each issue names identifier, element and rule) and leaves the data as it was. Each accepted
change raises ``revision`` by one.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Mapping, Sequence
from typing import Any

from modelport.appkit import App, DataDecl, DataError, Issue, SetDecl, load_case, save_case
from modelport.appkit.app import INPUT_KINDS
from modelport.appkit.jsondata import to_jsonable
from modelport.appkit.runner import prepare_inputs
from modelport.appkit.validation import validate

RESULT_KINDS = frozenset({"result"})


class UnknownIdentifier(DataError):
    """A name the app does not declare (the data API answers 404)."""

    code = "unknown_identifier"


def unknown(name: str) -> UnknownIdentifier:
    return UnknownIdentifier([Issue(name, (), "not a declared identifier", "not_declared")])


class SessionData:
    """The inputs (sets and parameters) and results of one session, always valid."""

    def __init__(self, app: App, data: Mapping[str, Any] | None = None) -> None:
        self.app = app
        self.inputs: dict[str, Any] = prepare_inputs(app, None)
        self.results: dict[str, Any] = {}
        self.revision = 0
        if data is not None:
            self.replace(data)

    # -- reading ------------------------------------------------------------------------

    def decl(self, name: str) -> SetDecl | DataDecl:
        """The declaration of ``name``; raises UnknownIdentifier."""
        found = self.app.identifiers.get(name)
        if found is None:
            raise unknown(name)
        return found

    def value(self, name: str) -> Any:
        """The JSON form of one identifier (rows for two or more sets)."""
        decl = self.decl(name)
        source = self.results if decl.kind == "result" else self.inputs
        value = source.get(name, _empty(decl))
        if isinstance(decl, DataDecl) and len(decl.domain) > 1:  # rows, even when empty
            return [[*key, v] for key, v in (value or {}).items()]
        return to_jsonable({name: value})[name]

    def snapshot(self) -> dict[str, Any]:
        """Every identifier in JSON form."""
        return {name: self.value(name) for name in self.app.identifiers}

    def case_bytes(self, *, inputs_only: bool = False,
                   metadata: Mapping[str, Any] | None = None) -> bytes:
        """The data as a case file (inputs, plus results unless ``inputs_only``)."""
        buffer = io.BytesIO()
        data = dict(self.inputs) if inputs_only else {**self.inputs, **self.results}
        save_case(self.app, buffer, data, metadata=metadata)
        return buffer.getvalue()

    # -- changing -----------------------------------------------------------------------

    def change(self, name: str, changes: Sequence[tuple[Sequence[str], Any]]) -> None:
        """Set (or, with value None, clear) single elements of input ``name``, all or none.

        ``changes`` holds (element tuple in domain order, value). A set takes its new list
        of elements through ``replace_identifier``. Raises DataError, UnknownIdentifier.
        """
        decl = self.decl(name)
        if not isinstance(decl, DataDecl) or decl.kind != "parameter":
            raise DataError([Issue(name, (), f"a {decl.kind} cannot be changed cell by cell",
                                   "read_only")])
        current = copy.deepcopy(self.inputs.get(name))
        for element, value in changes:
            current = _set_cell(decl, current, tuple(element), value)
        self._commit_inputs({**self.inputs, name: current})

    def replace_identifier(self, name: str, value: Any) -> None:
        """Replace the whole value of input ``name`` (a set: values of dropped elements go
        too). Raises DataError, UnknownIdentifier."""
        decl = self.decl(name)
        if decl.kind not in INPUT_KINDS:
            raise DataError([Issue(name, (), f"a {decl.kind} cannot be given here",
                                   "read_only")])
        inputs = {**self.inputs, name: value}
        if isinstance(decl, SetDecl):
            inputs = _prune(self.app, inputs, name, value)
        self._commit_inputs(inputs)

    def replace(self, data: Mapping[str, Any]) -> list[str]:
        """Lay ``data`` (normalised or JSON, inputs and results) over the app's defaults;
        returns the names that changed. Raises DataError."""
        inputs = prepare_inputs(self.app, data)
        sets = {d.name: inputs[d.name] for d in self.app.of_kind("set")}
        given = {k: v for k, v in data.items() if self.decl(k).kind == "result"}
        results = validate(self.app.identifiers, given, kinds=RESULT_KINDS, sets=sets,
                           partial=True)
        return self._commit(inputs, results)

    def load_results(self, results: Mapping[str, Any]) -> list[str]:
        """Take a solve's results (the other identifiers of its case are ignored)."""
        wanted = {k: v for k, v in results.items()
                  if k in self.app.identifiers and self.app.identifiers[k].kind == "result"}
        sets = {d.name: self.inputs[d.name] for d in self.app.of_kind("set")}
        checked = validate(self.app.identifiers, wanted, kinds=RESULT_KINDS, sets=sets,
                           partial=True)
        return self._commit(self.inputs, checked)

    def open_case(self, content: bytes) -> list[str]:
        """Replace the data by a case's (its inputs over the defaults, its results).
        Raises CaseError (e.g. wrong_app) and DataError; nothing changes then."""
        return self.replace(load_case(self.app, content))

    def take_outputs(self, outputs: Mapping[str, Any]) -> list[str]:
        """Apply what a session procedure returned (already checked by the app kit)."""
        inputs = {**self.inputs, **{k: v for k, v in outputs.items()
                                    if self.decl(k).kind in INPUT_KINDS}}
        results = {**self.results, **{k: v for k, v in outputs.items()
                                      if self.decl(k).kind == "result"}}
        return self._commit(prepare_inputs(self.app, inputs), results)

    def _commit_inputs(self, inputs: Mapping[str, Any]) -> None:
        checked = validate(self.app.identifiers, inputs, kinds=INPUT_KINDS)
        sets = {d.name: checked[d.name] for d in self.app.of_kind("set")}
        results = _keep_fitting(self.app, self.results, sets)
        self._commit(checked, results)

    def _commit(self, inputs: dict[str, Any], results: dict[str, Any]) -> list[str]:
        changed = [n for n in self.app.identifiers
                   if (inputs.get(n), results.get(n)) != (self.inputs.get(n), self.results.get(n))]
        self.inputs, self.results = inputs, results
        if changed:
            self.revision += 1
        return changed


def _empty(decl: SetDecl | DataDecl) -> Any:
    if isinstance(decl, SetDecl):
        return []
    return None if decl.is_scalar else {}


def _set_cell(decl: DataDecl, current: Any, element: tuple[str, ...], value: Any) -> Any:
    if decl.is_scalar:
        if element:
            raise DataError([Issue(decl.name, element, "a scalar has no elements", "domain")])
        return value
    if len(element) != len(decl.domain):
        raise DataError([Issue(decl.name, element,
                               f"expected {len(decl.domain)} index element(s), "
                               f"got {len(element)}", "domain")])
    values = dict(current or {})
    key: Any = element[0] if len(element) == 1 else element
    if value is None:
        values.pop(key, None)
    else:
        values[key] = value
    return values


def _prune(app: App, inputs: dict[str, Any], set_name: str, elements: Any) -> dict[str, Any]:
    """Drop values of parameters at elements no longer in ``set_name``."""
    if not isinstance(elements, list) or not all(isinstance(e, str) for e in elements):
        return inputs  # validation will say what is wrong
    sets = {d.name: (elements if d.name == set_name else inputs.get(d.name, []))
            for d in app.of_kind("set")}
    return {**inputs, **_keep_fitting(app, {k: v for k, v in inputs.items()
                                           if app.identifiers[k].kind == "parameter"}, sets)}


def _keep_fitting(app: App, values: Mapping[str, Any], sets: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` without entries at elements outside ``sets``."""
    members = {name: frozenset(elements) for name, elements in sets.items()}
    kept: dict[str, Any] = {}
    for name, value in values.items():
        decl = app.identifiers[name]
        if not isinstance(decl, DataDecl) or decl.is_scalar or not isinstance(value, dict):
            kept[name] = value
            continue
        kept[name] = {key: v for key, v in value.items()
                      if all(e in members.get(s, frozenset())
                             for e, s in zip(_tuple(key), decl.domain, strict=False))}
    return kept


def _tuple(key: Any) -> tuple[Any, ...]:
    return key if isinstance(key, tuple) else (key,)

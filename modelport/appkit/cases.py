"""Cases of an app: writing its data with its declarations, reading them back checked."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from modelport.appkit.app import App
from modelport.appkit.declarations import DataDecl
from modelport.appkit.validation import validate
from modelport.case import Case, IdentifierInfo, Written, read_case, write_case
from modelport.case.safety import Limits, Source

ALL_KINDS = frozenset({"set", "parameter", "result"})


def case_identifiers(app: App) -> list[IdentifierInfo]:
    """The app's sets, parameters and results as the case format describes them."""
    return [
        IdentifierInfo(d.name, d.kind, d.domain, d.type.value, d.unit)
        if isinstance(d, DataDecl)
        else IdentifierInfo(d.name, "set", (), "string")
        for d in app.identifiers.values()
    ]


def save_case(
    app: App,
    dest: str | Path | IO[bytes],
    data: Mapping[str, Any],
    *,
    metadata: Mapping[str, Any] | None = None,
) -> Written:
    """Validate ``data`` (inputs and/or results) against ``app`` and write it as a case.

    Raises DataError naming identifier and element before anything is written.
    """
    normalised = validate(app.identifiers, data, kinds=ALL_KINDS, partial=True)
    return write_case(dest, app.name, app.version, normalised,
                      identifiers=case_identifiers(app), metadata=metadata)


def load_case(app: App, source: Case | Source, *, limits: Limits | None = None,
              required: bool = True) -> dict[str, Any]:
    """Read a case of ``app`` and return its data normalised and validated (missing required
    values too, unless ``required=False``).

    Raises CaseError (wrong_app, unknown_identifier, schema_mismatch, or any reading error)
    and DataError (values that break the declarations, e.g. bounds).
    """
    case = source if isinstance(source, Case) else read_case(source, limits=limits or Limits())
    case.check_app(app.name, case_identifiers(app))
    return validate(app.identifiers, case.data(), kinds=ALL_KINDS, partial=True,
                    required=required)

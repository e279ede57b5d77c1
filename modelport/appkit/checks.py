"""Cross-checks of an app's declarations that need all of them made (pages' references)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelport.appkit.declarations import DataDecl, SetDecl
from modelport.appkit.pages import Button, Chart, Page, ScalarInput, Table, Widget

if TYPE_CHECKING:
    from modelport.appkit.app import App


def page_problems(app: App) -> list[str]:
    """Every widget reference that does not fit the app's declarations, as sentences."""
    return [
        f"page {page.name}: {problem}"
        for page in app.pages
        for widget in page.widgets
        if (problem := _widget_problem(app, page, widget))
    ]


def _widget_problem(app: App, page: Page, widget: Widget) -> str | None:
    if isinstance(widget, Button):
        if widget.procedure not in app.procedures:
            return f"button runs unknown procedure {widget.procedure!r}"
        return None
    if isinstance(widget, Table | ScalarInput | Chart):
        decl = app.identifiers.get(widget.identifier)
        if decl is None:
            kind = widget.describe()["widget"]
            return f"{kind} shows unknown identifier {widget.identifier!r}"
        return _shape_problem(widget, decl)
    return None


def _shape_problem(widget: Table | ScalarInput | Chart, decl: SetDecl | DataDecl) -> str | None:
    scalar = isinstance(decl, DataDecl) and decl.is_scalar
    if isinstance(widget, ScalarInput) and (not scalar or decl.kind != "parameter"):
        return f"scalar input needs a scalar parameter, {decl.name} is not one"
    if isinstance(widget, Table) and widget.columns is not None:
        if not isinstance(decl, DataDecl) or len(decl.domain) < 2:
            return f"table columns {widget.columns!r}: {decl.name} is not over two or more sets"
        if widget.columns not in decl.domain:
            return f"table columns {widget.columns!r} is not in the domain of {decl.name}"
    if isinstance(widget, Chart):
        if not isinstance(decl, DataDecl) or scalar:
            return f"chart needs an indexed parameter or result, {decl.name} is not one"
        if widget.x is not None and widget.x not in decl.domain:
            return f"chart x axis {widget.x!r} is not in the domain of {decl.name}"
    return None


def describe_page(app: App, page: Page) -> dict[str, object]:
    """The page's JSON form; tables of results are never editable; a table over two or more
    sets names its ``columns`` set (the last one unless declared)."""
    widgets = []
    for widget in page.widgets:
        item = widget.describe()
        if isinstance(widget, Table):
            decl = app.identifiers.get(widget.identifier)
            item["editable"] = widget.editable and decl is not None and decl.kind != "result"
            if item["columns"] is None and isinstance(decl, DataDecl) and len(decl.domain) > 1:
                item["columns"] = decl.domain[-1]
        widgets.append(item)
    return {"name": page.name, "title": page.title, "widgets": widgets}

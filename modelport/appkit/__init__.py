"""The app kit: how an author writes a Modelport app in Python.

>>> from modelport.appkit import App, run
>>> app = App(name="demo", title="Demo")
>>> items = app.set("items")
>>> weight = app.parameter("weight", items, lower=0, default=1.0)
>>> total = app.result("total")
>>> @app.procedure(kind="solve")
... def solve(ctx):
...     return {"total": sum(ctx.dense("weight").values())}
>>> run(app, "solve", {"items": ["a", "b"], "weight": {"a": 2}})
{'total': 3.0}

See docs/appkit.md.
"""

from modelport.appkit.app import App
from modelport.appkit.cases import case_identifiers, load_case, save_case
from modelport.appkit.context import Context, Progress
from modelport.appkit.declarations import DataDecl, ProcedureDecl, SetDecl, ValueType
from modelport.appkit.errors import (
    AppKitError,
    DataError,
    DeclarationError,
    Issue,
    UnknownProcedure,
)
from modelport.appkit.jsondata import to_jsonable
from modelport.appkit.loader import AppManifest, LoadedApp, load_app, read_manifest
from modelport.appkit.pages import (
    Button,
    Chart,
    Page,
    ScalarInput,
    Table,
    Text,
    button,
    chart,
    scalar,
    table,
    text,
)
from modelport.appkit.runner import run

__all__ = [
    "App",
    "AppKitError",
    "AppManifest",
    "Button",
    "Chart",
    "Context",
    "DataDecl",
    "DataError",
    "DeclarationError",
    "Issue",
    "LoadedApp",
    "Page",
    "ProcedureDecl",
    "Progress",
    "ScalarInput",
    "SetDecl",
    "Table",
    "Text",
    "UnknownProcedure",
    "ValueType",
    "button",
    "case_identifiers",
    "chart",
    "load_app",
    "load_case",
    "read_manifest",
    "run",
    "save_case",
    "scalar",
    "table",
    "text",
    "to_jsonable",
]

"""Loading an app from its folder: ``app.toml`` plus the module its entry point names.

``app.toml`` holds ``name``, ``version``, ``title``, ``runtime`` (a requirement such as
``">=1.0"``), ``entry`` (``"module:attribute"``, e.g. ``"app:app"``; dotted names allowed on
both sides) and optionally ``description`` and ``desktop`` (true: the app may run in a
desktop session, ``modelport desktop``, so its code leaves the platform decrypted). The packer
(``common.packages``, see docs/package-formats.md §4.1) checks these fields strictly; this
loader needs only them.
The app's folder is its import root.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import re
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelport.appkit.app import App
from modelport.appkit.errors import AppKitError

_DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
ENTRY_RE = re.compile(rf"^({_DOTTED}):({_DOTTED})$")
FIELDS = ("name", "version", "title", "runtime", "entry")


@dataclass(frozen=True)
class AppManifest:
    """The fields of ``app.toml``."""

    name: str
    version: str
    title: str
    runtime: str
    entry: str
    desktop: bool = False


@dataclass(frozen=True)
class LoadedApp:
    """An app folder read and imported."""

    folder: Path
    manifest: AppManifest
    app: App


def read_manifest(folder: str | Path) -> AppManifest:
    """Read ``folder/app.toml``; raises AppKitError (code ``bad_manifest``) naming the field."""
    path = Path(folder) / "app.toml"
    try:
        raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise AppKitError(f"{path}: {exc}", code="bad_manifest") from None
    for field in FIELDS:
        if not isinstance(raw.get(field), str) or not raw[field].strip():
            raise AppKitError(f"{path}: field {field!r} is missing or not a string",
                              code="bad_manifest")
    if not ENTRY_RE.match(raw["entry"]):
        raise AppKitError(f"{path}: field 'entry' must look like 'module:attribute'",
                          code="bad_manifest")
    desktop = raw.get("desktop", False)
    if not isinstance(desktop, bool):
        raise AppKitError(f"{path}: field 'desktop' must be true or false", code="bad_manifest")
    return AppManifest(**{field: raw[field] for field in FIELDS}, desktop=desktop)


def load_app(folder: str | Path) -> LoadedApp:
    """Import the app that ``folder/app.toml`` names; its name must match the manifest's.

    A top-level entry module (``app.py``) is imported under a private name, so two apps'
    ``app.py`` can be loaded in one process; the folder is on ``sys.path`` meanwhile, so the
    app's own modules import as usual. Raises AppKitError (``bad_manifest``, ``bad_entry``)
    and whatever the app's code raises on import.
    """
    folder = Path(folder).resolve()
    manifest = read_manifest(folder)
    module_name, attribute = manifest.entry.split(":")
    with _import_root(folder):
        module = _import(folder, module_name, manifest.name)
    app: Any = module
    for part in attribute.split("."):
        app = getattr(app, part, None)
    if not isinstance(app, App):
        raise AppKitError(f"entry {manifest.entry} is not an App", code="bad_entry")
    if app.name != manifest.name:
        raise AppKitError(
            f"entry {manifest.entry} defines app {app.name!r}, app.toml says {manifest.name!r}",
            code="bad_entry",
        )
    app.version = app.version or manifest.version
    return LoadedApp(folder, manifest, app)


@contextlib.contextmanager
def _import_root(folder: Path) -> Iterator[None]:
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(folder))


def _import(folder: Path, module_name: str, app_name: str) -> Any:
    path = folder / f"{module_name}.py"
    if "." in module_name or not path.is_file():
        return _import_package_module(folder, module_name)
    private = f"_modelport_app_{re.sub(r'[^A-Za-z0-9_]', '_', app_name)}_{module_name}"
    spec = importlib.util.spec_from_file_location(private, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[private] = module
    try:
        spec.loader.exec_module(module)
    except Exception:
        del sys.modules[private]
        raise
    return module


def _import_package_module(folder: Path, module_name: str) -> Any:
    top = module_name.split(".")[0]
    if not (folder / top / "__init__.py").is_file() and not (folder / f"{top}.py").is_file():
        raise AppKitError(f"entry module {module_name} not found in {folder}", code="bad_entry")
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise AppKitError(f"entry module {module_name}: {exc}", code="bad_entry") from None

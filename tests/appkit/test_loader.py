"""Loading an app folder: app.toml fields and the entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelport.appkit import AppKitError, load_app, read_manifest

GOOD = """name = "tiny"
version = "0.1.0"
title = "Tiny"
runtime = ">=1.0"
entry = "main:app"
"""
CODE = "from modelport.appkit import App\napp = App(name={name!r})\n"


def make(tmp_path: Path, manifest: str = GOOD, code: str = CODE.format(name="tiny")) -> Path:
    (tmp_path / "app.toml").write_text(manifest)
    (tmp_path / "main.py").write_text(code)
    return tmp_path


def test_loads_and_takes_the_version(tmp_path: Path) -> None:
    loaded = load_app(make(tmp_path))
    assert loaded.app.name == "tiny" and loaded.app.version == "0.1.0"


@pytest.mark.parametrize("field", ["name", "version", "title", "runtime", "entry"])
def test_missing_field_is_named(tmp_path: Path, field: str) -> None:
    manifest = "\n".join(line for line in GOOD.splitlines() if not line.startswith(field))
    with pytest.raises(AppKitError, match=f"field '{field}' is missing") as caught:
        read_manifest(make(tmp_path, manifest))
    assert caught.value.code == "bad_manifest"


def test_bad_entry_format_and_wrong_name(tmp_path: Path) -> None:
    with pytest.raises(AppKitError, match="module:attribute"):
        load_app(make(tmp_path, GOOD.replace("main:app", "main.app")))
    with pytest.raises(AppKitError, match="defines app 'other'") as caught:
        load_app(make(tmp_path, code=CODE.format(name="other")))
    assert caught.value.code == "bad_entry"


def test_entry_that_is_not_an_app(tmp_path: Path) -> None:
    with pytest.raises(AppKitError, match="is not an App"):
        load_app(make(tmp_path, code="app = 3\n"))


def test_broken_toml(tmp_path: Path) -> None:
    with pytest.raises(AppKitError) as caught:
        read_manifest(make(tmp_path, "name = \n"))
    assert caught.value.code == "bad_manifest"


def test_dotted_entry_in_a_package_with_sibling_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "tinypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "model.py").write_text("from tinypkg.helpers import NAME\n" + CODE.format(name="tiny")
                                  .replace("App(name='tiny')", "App(name=NAME)"))
    (pkg / "helpers.py").write_text("NAME = 'tiny'\n")
    (tmp_path / "app.toml").write_text(GOOD.replace("main:app", "tinypkg.model:app"))
    loaded = load_app(tmp_path)
    assert loaded.app.name == "tiny"
    assert str(tmp_path) not in __import__("sys").path


def test_missing_entry_module(tmp_path: Path) -> None:
    (tmp_path / "app.toml").write_text(GOOD.replace("main:app", "nowhere:app"))
    with pytest.raises(AppKitError, match="entry module nowhere not found") as caught:
        load_app(tmp_path)
    assert caught.value.code == "bad_entry"

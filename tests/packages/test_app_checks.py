"""Checks of an app directory before packing: files, compilation, entry point, imports."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest

from common.packages import (
    BadManifest,
    BadSource,
    PackageLimits,
    TooLarge,
    UnresolvedImports,
    UnsafePath,
    check_app,
    list_app_files,
    write_app_archive,
)
from common.packages.limits import DEFAULT_LIMITS
from tests.packages.conftest import write_app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_valid_app_and_skipped_files(app_dir: Path) -> None:
    manifest, files = check_app(app_dir)
    assert manifest.name == "demo-app"
    assert files == [
        "app.toml",
        "data/default.json",
        "demo/__init__.py",
        "demo/main.py",
        "demo/model.py",
        "helpers.py",
    ]


@pytest.mark.parametrize("name", ["transport", "facility-location", "sleeper"])
def test_the_examples_pass(name: str) -> None:
    assert check_app(EXAMPLES / name)[0].name == name


def _unresolved(app_dir: Path) -> list[tuple[str, str]]:
    with pytest.raises(UnresolvedImports) as info:
        check_app(app_dir)
    assert info.value.code == "unresolved_import"
    return info.value.imports


def test_unknown_third_party_import(app_dir: Path) -> None:
    main = app_dir / "demo/main.py"
    main.write_text(main.read_text() + "import requests\nfrom yaml import safe_load\n")
    assert _unresolved(app_dir) == [("demo/main.py:8", "requests"), ("demo/main.py:9", "yaml")]


def test_reachable_modules_are_checked_too(app_dir: Path) -> None:
    (app_dir / "helpers.py").write_text("def f():\n    import scipy.optimize\n")
    assert _unresolved(app_dir) == [("helpers.py:2", "scipy.optimize")]


def test_missing_own_module_and_relative_beyond_top(app_dir: Path) -> None:
    main = app_dir / "demo/main.py"
    main.write_text(main.read_text() + "import demo.missing\nfrom .. import x\n")
    (app_dir / "helpers.py").write_text("from . import y\n")
    found = _unresolved(app_dir)
    assert ("demo/main.py:8", "demo.missing") in found
    assert ("demo/main.py:9", ".. (relative import beyond the app's top level)") in found
    assert any(where == "helpers.py:1" for where, _ in found)


def test_optional_imports_are_not_required(app_dir: Path) -> None:
    main = app_dir / "demo/main.py"
    main.write_text(
        main.read_text()
        + "try:\n    import ujson\nexcept ImportError:\n    ujson = None\n"
        + "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pandas_stubs\n"
    )
    check_app(app_dir)


def test_unreachable_file_is_compiled_but_not_import_checked(app_dir: Path) -> None:
    write_app(app_dir, {"tools/bench.py": "import pytest\n"})
    check_app(app_dir)
    write_app(app_dir, {"tools/broken.py": "def f(:\n"})
    with pytest.raises(BadSource, match=r"tools/broken.py:1:\d+") as info:
        check_app(app_dir)
    assert info.value.code == "syntax_error"


def test_compile_time_error_in_entry_module(app_dir: Path) -> None:
    main = app_dir / "demo/main.py"
    main.write_text(main.read_text() + "return 1\n")
    with pytest.raises(BadSource, match=r"demo/main.py:8:\d+: 'return' outside function"):
        check_app(app_dir)


def test_allowed_imports_can_be_extended(app_dir: Path) -> None:
    (app_dir / "helpers.py").write_text("import scipy\n")
    check_app(app_dir, allowed_imports={"scipy", "modelport", "numpy", "highspy"})


def test_entry_module_missing(app_dir: Path) -> None:
    (app_dir / "demo/main.py").unlink()
    with pytest.raises(BadManifest, match="no module 'demo.main'") as info:
        check_app(app_dir)
    assert info.value.field == "entry"


def test_entry_attribute_missing(app_dir: Path) -> None:
    (app_dir / "demo/main.py").write_text("def make():\n    app = 1\n    return app\n")
    with pytest.raises(BadManifest, match="does not define 'app'") as info:
        check_app(app_dir)
    assert info.value.field == "entry"


def test_no_app_toml(app_dir: Path) -> None:
    (app_dir / "app.toml").unlink()
    with pytest.raises(BadManifest, match="no app.toml"):
        check_app(app_dir)


def test_symlink_in_app_dir_is_refused(app_dir: Path) -> None:
    os.symlink("/etc/passwd", app_dir / "data/passwd")
    with pytest.raises(UnsafePath, match="symbolic link"):
        check_app(app_dir)


def test_fifo_in_app_dir_is_refused(app_dir: Path) -> None:
    os.mkfifo(app_dir / "data/pipe")
    with pytest.raises(UnsafePath, match="not a regular file"):
        check_app(app_dir)


def test_app_dir_over_the_limits(app_dir: Path) -> None:
    with pytest.raises(TooLarge):
        list_app_files(app_dir, PackageLimits(max_entries=3))
    with pytest.raises(TooLarge):
        list_app_files(app_dir, PackageLimits(max_unpacked_bytes=100))


def _archive(app_dir: Path) -> bytes:
    out = io.BytesIO()
    write_app_archive(app_dir, list_app_files(app_dir, DEFAULT_LIMITS), out)
    return out.getvalue()


def test_archive_is_deterministic(app_dir: Path) -> None:
    first = _archive(app_dir)
    os.utime(app_dir / "helpers.py", (1, 1))
    (app_dir / "helpers.py").chmod(0o600)
    assert _archive(app_dir) == first
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(first))) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) for m in members} == {
        (0, 0, 0, "", "", 0o644)
    }
    assert first[4:8] == b"\0\0\0\0"  # gzip mtime

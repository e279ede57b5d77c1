"""app.toml validation, versions and requirements, canonical JSON."""

from __future__ import annotations

import pytest

from common.packages import (
    BadManifest,
    check_requirement,
    check_semver,
    parse_app_toml,
    runtime_satisfies,
)
from common.packages.canonical import canonical_json, load_canonical

FIELDS = {
    "name": '"demo-app"',
    "version": '"1.2.0"',
    "title": '"Demo app"',
    "runtime": '">=1.0"',
    "entry": '"app:app"',
}


def _toml(**changes: str | None) -> str:
    fields = {**FIELDS, **changes}
    return "".join(f"{key} = {value}\n" for key, value in fields.items() if value is not None)


def test_valid_app_toml() -> None:
    manifest = parse_app_toml(_toml(description='"Ships cases."'))
    assert (manifest.name, manifest.version, manifest.runtime) == ("demo-app", "1.2.0", ">=1.0")
    assert (manifest.entry_module, manifest.entry_attribute) == ("app", "app")
    assert manifest.description == "Ships cases."


@pytest.mark.parametrize("missing", list(FIELDS))
def test_missing_field_is_named(missing: str) -> None:
    with pytest.raises(BadManifest) as info:
        parse_app_toml(_toml(**{missing: None}))
    assert info.value.field == missing
    assert info.value.message == f"app.toml: field '{missing}': missing"


@pytest.mark.parametrize(
    "field, value, hint",
    [
        ("name", '"My App"', "lowercase slug"),
        ("name", '"-app"', "lowercase slug"),
        ("version", "1.0", "valid string"),
        ("version", '"1.0"', "semantic version"),
        ("version", '"v1.0.0"', "semantic version"),
        ("title", '""', "non-empty"),
        ("runtime", '"=>1.0"', "version requirement"),
        ("runtime", '"1.0"', "version requirement"),
        ("runtime", '">=1.0,"', "version requirement"),
        ("runtime", '""', "empty requirement"),
        ("entry", '"app"', "module:attribute"),
        ("entry", '"app:"', "module:attribute"),
        ("entry", '"my-app:app"', "module:attribute"),
        ("entrypoint", '"app:app"', "unknown field"),
    ],
)
def test_wrong_field_is_named(field: str, value: str, hint: str) -> None:
    with pytest.raises(BadManifest, match=hint) as info:
        parse_app_toml(_toml(**{field: value}))
    assert info.value.field == field
    assert info.value.code == "bad_manifest"


def test_toml_syntax_error() -> None:
    with pytest.raises(BadManifest, match="not valid TOML") as info:
        parse_app_toml("name = ")
    assert info.value.field == "(document)"


@pytest.mark.parametrize("good", ["0.1.0", "1.0.0", "1.0.0-rc.1", "2.3.4-alpha.2", "1.0.0+build.5"])
def test_semver_accepted(good: str) -> None:
    assert check_semver(good) == good


@pytest.mark.parametrize("bad", ["1", "1.0", "01.0.0", "1.0.0-", "1.0.0-alpha.beta", "v1.0.0"])
def test_semver_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        check_semver(bad)


@pytest.mark.parametrize("good", [">=1.0", ">=1.0,<2", "~=1.4", "==1.4.*", "!=1.3.0"])
def test_requirement_accepted(good: str) -> None:
    assert check_requirement(good) == good


@pytest.mark.parametrize(
    "requirement, version, expected",
    [
        (">=1.0", "1.0.0", True),
        (">=1.0", "0.9.9", False),
        (">=1.0,<2", "2.0.0", False),
        (">=1.0,<2", "1.99.0", True),
        ("~=1.4", "1.9.0", True),
        ("~=1.4", "2.0.0", False),
        (">=1.0", "1.1.0-rc.1", True),
        (">=1.1", "1.1.0-rc.1", False),
    ],
)
def test_runtime_satisfies(requirement: str, version: str, expected: bool) -> None:
    assert runtime_satisfies(requirement, version) is expected


def test_canonical_json_form() -> None:
    value = {"b": 1, "a": [True, None, "é\n\u0001"], "c": {"z": -3, "y": ""}}
    expected = '{"a":[true,null,"é\\n\\u0001"],"b":1,"c":{"y":"","z":-3}}'.encode()
    assert canonical_json(value) == expected
    assert load_canonical(expected, "x") == value


@pytest.mark.parametrize("value", [{"a": 1.5}, {"a": 2**53}, {1: "a"}, {"a": "\ud800"}])
def test_canonical_json_refuses(value: object) -> None:
    with pytest.raises(ValueError):
        canonical_json(value)


@pytest.mark.parametrize(
    "data, problem",
    [
        (b'{"a": 1}', "canonical"),
        (b'{"b":1,"a":2}', "canonical"),
        (b'{"a":1,"a":1}', "duplicate key"),
        (b'{"a":1.0}', "not an integer"),
        (b"[1]", "not a JSON object"),
        (b"\xff", "decode"),
        (b'{"a":NaN}', "not an integer|not allowed"),
    ],
)
def test_load_canonical_refuses(data: bytes, problem: str) -> None:
    with pytest.raises(BadManifest, match=problem):
        load_canonical(data, "manifest.json")

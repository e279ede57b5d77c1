"""Manifest schemas: the runtime's manifest.json and signature.json, and an app's app.toml.

Every model is frozen, strict and forbids unknown fields, so a typo or a wrong type fails with
a :class:`BadManifest` that names the field.
"""

from __future__ import annotations

import base64
import binascii
import re
import tomllib
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from common.packages.canonical import canonical_json, load_canonical
from common.packages.errors import BadManifest, bad_manifest_from
from common.packages.versions import check_requirement, check_semver

IMAGE_MEMBER = "image.tar"
_SLUG = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
_DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_ENTRY = re.compile(rf"^{_DOTTED}:{_DOTTED}$")
_CREATED = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def _slug(text: str) -> str:
    if not _SLUG.match(text) or len(text) > 64:
        raise ValueError(f"{text!r} is not a lowercase slug like 'my-app' (a-z, 0-9, '-')")
    return text


def _entry_point(text: str) -> str:
    if not _ENTRY.match(text):
        raise ValueError(f"{text!r} is not an entry point like 'package.module:attribute'")
    return text


def _created(text: str) -> str:
    if not _CREATED.match(text):
        raise ValueError(f"{text!r} is not a UTC time like 2024-05-01T12:00:00Z")
    datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")  # a real date; raises ValueError
    return text


def _no_bool(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("must be an integer, not a boolean")
    return value


def _title(text: str) -> str:
    if not text.strip() or any(ord(c) < 32 for c in text):
        raise ValueError("must be non-empty text on one line")
    return text


SemVer = Annotated[str, AfterValidator(check_semver)]
Requirement = Annotated[str, AfterValidator(check_requirement)]
Slug = Annotated[str, AfterValidator(_slug)]
EntryPoint = Annotated[str, AfterValidator(_entry_point)]
Created = Annotated[str, AfterValidator(_created)]
Title = Annotated[str, Field(max_length=200), AfterValidator(_title)]
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Token = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z][0-9A-Za-z.+_-]*$")]
FormatVersion = Annotated[Literal[1], BeforeValidator(_no_bool)]
KeyId = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]


class StrictModel(BaseModel):
    """Frozen, strict (no type coercion) and closed (unknown fields are errors)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class MemberDigest(StrictModel):
    """The size and SHA-256 of one package member."""

    sha256: Sha256Hex
    size: int = Field(ge=0)


class RuntimeManifest(StrictModel):
    """The signed description of a runtime package (``manifest.json``)."""

    format_version: FormatVersion
    runtime_version: SemVer
    python_version: str = Field(pattern=r"^\d+\.\d+(?:\.\d+)?(?:(?:a|b|rc)\d+)?$")
    solvers: dict[Token, Token]
    image_reference: str = Field(
        min_length=1, max_length=255, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$"
    )
    image_digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    created: Created
    members: dict[str, MemberDigest]

    @field_validator("members")
    @classmethod
    def _only_image(cls, members: dict[str, MemberDigest]) -> dict[str, MemberDigest]:
        if set(members) != {IMAGE_MEMBER}:
            raise ValueError(f"must list exactly {IMAGE_MEMBER!r}, got {sorted(members)}")
        return members

    def canonical_bytes(self) -> bytes:
        """The canonical JSON bytes stored as manifest.json and signed."""
        return canonical_json(self.model_dump(mode="json"))


class RuntimeSignature(StrictModel):
    """``signature.json``: an Ed25519 signature over the manifest.json bytes."""

    algorithm: Literal["ed25519"]
    key_id: KeyId
    signature: str

    @field_validator("signature")
    @classmethod
    def _b64_signature(cls, text: str) -> str:
        try:
            raw = base64.b64decode(text, validate=True)
        except binascii.Error:
            raise ValueError("not base64") from None
        if len(raw) != 64:
            raise ValueError(f"an Ed25519 signature is 64 bytes, got {len(raw)}")
        return text

    def raw_signature(self) -> bytes:
        return base64.b64decode(self.signature)


class AppManifest(StrictModel):
    """An app's ``app.toml``: what it is and what runtime it needs."""

    name: Slug
    version: SemVer
    title: Title
    runtime: Requirement
    entry: EntryPoint
    description: str | None = Field(default=None, max_length=2000)
    desktop: bool = False  # may run in a desktop session (modelport desktop); docs/appkit.md

    @property
    def entry_module(self) -> str:
        return self.entry.split(":", 1)[0]

    @property
    def entry_attribute(self) -> str:
        return self.entry.split(":", 1)[1]


def parse_runtime_manifest(data: bytes) -> RuntimeManifest:
    """Parse manifest.json bytes (canonical JSON); raises :class:`BadManifest` naming the field."""
    return validate_model(RuntimeManifest, load_canonical(data, "manifest.json"), "manifest.json")


def parse_signature(data: bytes) -> RuntimeSignature:
    """Parse signature.json bytes (canonical JSON); raises :class:`BadManifest`."""
    return validate_model(
        RuntimeSignature, load_canonical(data, "signature.json"), "signature.json"
    )


def parse_app_toml(text: str, source: str = "app.toml") -> AppManifest:
    """Parse app.toml text; raises :class:`BadManifest` naming the field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadManifest(f"{source}: not valid TOML ({exc})", field="(document)") from None
    return validate_model(AppManifest, data, source)


def validate_model(model: type[Any], data: dict[str, Any], source: str, prefix: str = "") -> Any:
    """Validate ``data`` as ``model``; raises :class:`BadManifest` naming the field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise bad_manifest_from(exc, source, prefix) from None

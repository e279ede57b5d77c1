"""The errors package handling raises: one hierarchy, each with a stable machine ``code``.

Every class derives from :class:`PackageError` (itself a ``BadRequest``), so an edge turns any of
them into a 4xx JSON body with ``to_dict()``; :class:`TooLarge` maps to 413.
"""

from __future__ import annotations

from pydantic import ValidationError

from common import errors


class PackageError(errors.BadRequest):
    """A package (runtime or app), key file or app source that cannot be accepted."""

    code = "bad_package"


class NotAPackage(PackageError):
    """The bytes are not a package of the expected kind (wrong magic, not a tar, missing part)."""

    code = "not_a_package"


class UnsupportedFormat(PackageError):
    """A package of a format version this code does not read."""

    code = "unsupported_format"


class Truncated(PackageError):
    """The data ends before the package does."""

    code = "truncated"


class UnsafePath(PackageError):
    """An archive entry or source file that could escape its directory or is not a plain file."""

    code = "unsafe_path"


class TooLarge(PackageError, errors.TooLarge):
    """A size or count over its limit; raised as soon as the limit is crossed."""

    code, status = "too_large", 413


class BadManifest(PackageError):
    """A manifest (or header, or app.toml) field is missing or wrong; ``field`` names it."""

    code = "bad_manifest"

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "field": self.field}


class UntrustedKey(PackageError):
    """Signed by a key that is not in the trusted list."""

    code = "untrusted_key"


class BadSignature(PackageError):
    """The signature does not verify, or the signature document is malformed."""

    code = "bad_signature"


class TamperedMember(PackageError):
    """A member's size or sha256 differs from what the signed manifest says."""

    code = "tampered_member"


class TamperedCiphertext(PackageError):
    """A chunk of an app package failed authentication (modified, reordered or cut)."""

    code = "tampered_ciphertext"


class WrongKey(PackageError):
    """An app package encrypted for another platform key."""

    code = "wrong_key"


class BadKey(PackageError):
    """A key file or key text that cannot be read, or a private key file others can read."""

    code = "bad_key"


class BadSource(PackageError):
    """App source that does not compile."""

    code = "syntax_error"


class UnresolvedImports(PackageError):
    """App code imports modules that are neither stdlib, the app's own, nor allowed.

    ``imports`` lists ``(file:line, module)`` pairs.
    """

    code = "unresolved_import"

    def __init__(self, imports: list[tuple[str, str]]) -> None:
        lines = "; ".join(f"{where}: {module}" for where, module in imports)
        super().__init__(f"unresolved imports: {lines}")
        self.imports = imports


def bad_manifest_from(exc: ValidationError, source: str, prefix: str = "") -> BadManifest:
    """Turn a pydantic error into a :class:`BadManifest` naming the first failing field.

    The message lists every failing field as ``source: field 'a.b': problem``.
    """
    problems = []
    for err in exc.errors():
        field = prefix + (".".join(str(part) for part in err["loc"]) or "(document)")
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "missing":
            msg = "missing"
        elif err["type"] == "extra_forbidden":
            msg = "unknown field"
        problems.append((field, msg))
    text = "; ".join(f"field '{field}': {msg}" for field, msg in problems)
    return BadManifest(f"{source}: {text}", field=problems[0][0])

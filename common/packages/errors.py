"""The errors package handling raises: one hierarchy, each with a stable machine ``code``.

Every class derives from :class:`PackageError` (itself a ``BadRequest``), so an edge turns any of
them into a 4xx JSON body with ``to_dict()``; :class:`TooLarge` maps to 413. Each names its
``code`` in its header (see :class:`common.errors.ModelportError`) and says when in its docstring.
"""

from __future__ import annotations

from pydantic import ValidationError

from common import errors


class PackageError(errors.BadRequest, code="bad_package"):
    """A package (runtime or app), key file or app source that cannot be accepted."""


class NotAPackage(PackageError, code="not_a_package"):
    """The bytes are not a package of the expected kind (wrong magic, not a tar, missing part)."""


class UnsupportedFormat(PackageError, code="unsupported_format"):
    """A package of a format version this code does not read."""


class Truncated(PackageError, code="truncated"):
    """The data ends before the package does."""


class UnsafePath(PackageError, code="unsafe_path"):
    """An archive entry or source file that could escape its directory or is not a plain file."""


class TooLarge(PackageError, errors.TooLarge, code="too_large", status=413):
    """A size or count over its limit; raised as soon as the limit is crossed."""


class BadManifest(PackageError, code="bad_manifest"):
    """A manifest (or header, or app.toml) field is missing or wrong; ``field`` names it."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "field": self.field}


class UntrustedKey(PackageError, code="untrusted_key"):
    """Signed by a key that is not in the trusted list."""


class BadSignature(PackageError, code="bad_signature"):
    """The signature does not verify, or the signature document is malformed."""


class TamperedMember(PackageError, code="tampered_member"):
    """A member's size or sha256 differs from what the signed manifest says."""


class TamperedCiphertext(PackageError, code="tampered_ciphertext"):
    """A chunk of an app package failed authentication (modified, reordered or cut)."""


class WrongKey(PackageError, code="wrong_key"):
    """An app package encrypted for another platform key."""


class BadKey(PackageError, code="bad_key"):
    """A key file or key text that cannot be read, or a private key file others can read."""


class BadSource(PackageError, code="syntax_error"):
    """App source that does not compile."""


class UnresolvedImports(PackageError, code="unresolved_import"):
    """App code imports modules that are neither stdlib, the app's own, nor allowed.

    ``imports`` lists ``(file:line, module)`` pairs.
    """

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

"""The one exception of the case format, with a stable machine ``code``."""

from __future__ import annotations

CODES = frozenset(
    {
        "not_a_case",  # not a zip container, or no case header first
        "truncated",  # the file ends early (no zip central directory)
        "bad_header",  # modelport-case.json unreadable or with a wrong field
        "unsupported_version",  # a format version this reader does not know
        "bad_manifest",  # manifest.json unreadable or with a wrong field
        "unsafe_member",  # '..', absolute path, link, directory, odd characters
        "duplicate_member",  # the same name twice in the container
        "unsupported_member",  # encrypted, or compressed with other than stored/deflate
        "unexpected_member",  # a member the manifest does not list
        "missing_member",  # a member the manifest lists that is absent
        "too_large",  # inflates past the reader's limits
        "checksum_mismatch",  # sha256 or size differs from the manifest or header
        "corrupt_member",  # zip CRC error or unreadable Parquet
        "bad_table",  # a table whose columns, types or rows differ from the manifest
        "bad_data",  # values given to the writer that do not fit their identifier
        "unknown_identifier",  # a name that is not in the case / not declared
        "wrong_app",  # a case of another app
        "schema_mismatch",  # a case identifier that differs from the app's declaration
    }
)


class CaseError(Exception):
    """A case that cannot be read, written or used; ``code`` is one of ``CODES``."""

    def __init__(self, code: str, message: str) -> None:
        assert code in CODES, code
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        """The HTTP status an edge should answer with: 413 for too_large, else 400."""
        return 413 if self.code == "too_large" else 400

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form: ``{"code", "message"}``."""
        return {"code": self.code, "message": self.message}

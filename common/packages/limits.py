"""Size and count limits applied when packing, verifying, decrypting and extracting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from common.packages.errors import TooLarge

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


@dataclass(frozen=True)
class PackageLimits:
    """Limits for untrusted packages; each crossing raises ``TooLarge`` at once.

    ``max_json_bytes``: manifest.json, signature.json, an app header, app.toml.
    ``max_image_bytes``: the runtime's image.tar member.
    ``max_app_bytes``: an app's compressed archive (the plaintext inside the encryption).
    ``max_unpacked_bytes``: the total size of the files an app archive unpacks to.
    ``max_entries``: entries (files and directories) in an app archive.
    ``max_tar_meta_bytes``: one pax or GNU long-name header inside an archive.
    """

    max_json_bytes: int = 64 * KiB
    max_image_bytes: int = 20 * GiB
    max_app_bytes: int = 512 * MiB
    max_unpacked_bytes: int = 2 * GiB
    max_entries: int = 20_000
    max_tar_meta_bytes: int = 64 * KiB


DEFAULT_LIMITS = PackageLimits()


class SizeGuard:
    """A writer that passes writes on to ``out``, raising :class:`TooLarge` ("``what`` is
    over ``limit`` bytes") as soon as more than ``limit`` bytes were written."""

    def __init__(self, out: Any, limit: int, what: str) -> None:
        self.out, self.limit, self.what, self.count = out, limit, what, 0

    def write(self, data: bytes) -> int:
        self.count += len(data)
        if self.count > self.limit:
            raise TooLarge(f"{self.what} is over {self.limit} bytes")
        self.out.write(data)
        return len(data)

    def flush(self) -> None:
        if hasattr(self.out, "flush"):
            self.out.flush()

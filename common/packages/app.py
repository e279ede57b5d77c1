"""App packages: check an app directory, pack it encrypted for the platform, open it again.

The payload is a deterministic tar.gz of the app directory (app.toml at its root), encrypted
with :mod:`common.packages.appcrypto` (age). Nothing is held whole in memory: files stream
through tar and gzip into a temporary file, then through age; back through age into a
temporary file and :func:`safe_extract`.
"""

from __future__ import annotations

import gzip
import os
import stat
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from common.packages.appcrypto import AppHeader, decrypt_stream, encrypt_stream, read_header
from common.packages.errors import BadManifest, TooLarge, UnsafePath
from common.packages.imports import DEFAULT_ALLOWED_IMPORTS, check_app_sources
from common.packages.keys import PlatformPrivateKey, PlatformPublicKey
from common.packages.limits import DEFAULT_LIMITS, PackageLimits, SizeGuard
from common.packages.manifests import AppManifest, parse_app_toml
from common.packages.tarsafe import clear_dir, safe_extract, safe_name, scan_archive

APP_TOML = "app.toml"
SKIPPED_DIRS = frozenset({"__pycache__"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")
GZIP_LEVEL = 6


def load_app_manifest(app_dir: str | os.PathLike[str], limits: PackageLimits) -> AppManifest:
    """Read and validate ``app_dir/app.toml``; raises :class:`BadManifest` naming the field."""
    path = Path(app_dir) / APP_TOML
    if not path.is_file():
        raise BadManifest(f"{app_dir}: no {APP_TOML}", field="(document)")
    if path.stat().st_size > limits.max_json_bytes:
        raise TooLarge(f"{APP_TOML} is over {limits.max_json_bytes} bytes")
    return _parse_app_toml_bytes(path.read_bytes())


def _parse_app_toml_bytes(data: bytes) -> AppManifest:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadManifest(f"{APP_TOML}: not UTF-8 text", field="(document)") from None
    return parse_app_toml(text, APP_TOML)


def list_app_files(app_dir: str | os.PathLike[str], limits: PackageLimits) -> list[str]:
    """The files an app package holds, as sorted relative POSIX paths.

    Skips dotfiles and dot-directories (``.git``), ``__pycache__`` and ``*.pyc``. Raises
    :class:`UnsafePath` for links and special files, :class:`TooLarge` over the limits.
    """
    root = Path(app_dir)
    files: list[str] = []
    total = 0
    for path in _walk(root):
        rel = safe_name(path.relative_to(root).as_posix())
        total += path.stat().st_size
        files.append(rel)
        if len(files) > limits.max_entries or total > limits.max_unpacked_bytes:
            raise TooLarge(f"{app_dir}: over {limits.max_entries} files or {total} bytes")
    return sorted(files)


def _walk(directory: Path) -> Iterable[Path]:
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        path = Path(entry.path)
        if entry.name.startswith(".") or entry.name in SKIPPED_DIRS:
            continue
        _check_name(path)
        if entry.is_symlink():
            raise UnsafePath(f"{path}: a symbolic link; app packages hold plain files only")
        if entry.is_dir():
            yield from _walk(path)
        elif not stat.S_ISREG(entry.stat().st_mode):
            raise UnsafePath(f"{path}: not a regular file")
        elif not entry.name.endswith(SKIPPED_SUFFIXES):
            yield path


def _check_name(path: Path) -> None:
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafePath(f"{path!r}: file name is not UTF-8") from None


def check_app(
    app_dir: str | os.PathLike[str],
    limits: PackageLimits = DEFAULT_LIMITS,
    allowed_imports: Iterable[str] = DEFAULT_ALLOWED_IMPORTS,
) -> tuple[AppManifest, list[str]]:
    """Validate an app directory: app.toml, file list, compilation, imports.

    Returns the manifest and the files to pack. Raises :class:`BadManifest`,
    :class:`UnsafePath`, :class:`TooLarge`, :class:`BadSource` or :class:`UnresolvedImports`.
    """
    manifest = load_app_manifest(app_dir, limits)
    files = list_app_files(app_dir, limits)
    check_app_sources(Path(app_dir), files, manifest.entry, allowed_imports)
    return manifest, files


def write_app_archive(app_dir: str | os.PathLike[str], files: list[str], out: Any) -> None:
    """Write the deterministic tar.gz of ``files`` (relative to ``app_dir``) to ``out``.

    gzip: no name, mtime 0, level 6. tar: pax format, entries in the given order, mtime 0,
    uid/gid 0, no owner names, mode 0755 for executables and 0644 for other files.
    """
    with gzip.GzipFile(
        filename="", mode="wb", compresslevel=GZIP_LEVEL, fileobj=out, mtime=0
    ) as gz:
        with tarfile.TarFile(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for rel in files:
                _add_file(tar, Path(app_dir) / rel, rel)


def _add_file(tar: tarfile.TarFile, path: Path, rel: str) -> None:
    with open(path, "rb") as f:
        info = tarfile.TarInfo(rel)
        st = os.fstat(f.fileno())
        info.size, info.mtime = st.st_size, 0
        info.mode = 0o755 if st.st_mode & 0o111 else 0o644
        tar.addfile(info, f)


def pack_app(
    src_dir: str | os.PathLike[str],
    platform_public_key: PlatformPublicKey,
    out_path: str | os.PathLike[str],
    limits: PackageLimits = DEFAULT_LIMITS,
    *,
    allowed_imports: Iterable[str] = DEFAULT_ALLOWED_IMPORTS,
) -> AppManifest:
    """Check ``src_dir`` (see :func:`check_app`) and write it encrypted for the platform.

    The package appears at ``out_path`` atomically. Returns the manifest.
    """
    manifest, files = check_app(src_dir, limits, allowed_imports)
    out = Path(out_path)
    part = out.with_name(out.name + ".part")
    try:
        with tempfile.TemporaryFile(dir=out.parent) as payload, open(part, "wb") as f:
            guard = SizeGuard(payload, limits.max_app_bytes, "the compressed app archive")
            write_app_archive(src_dir, files, guard)
            payload.seek(0)
            encrypt_stream(payload, f, platform_public_key, manifest)
        os.replace(part, out)
    finally:
        part.unlink(missing_ok=True)
    return manifest


def decrypt_app(
    stream_in: IO[bytes],
    platform_private_key: PlatformPrivateKey,
    out_stream: IO[bytes],
    limits: PackageLimits = DEFAULT_LIMITS,
) -> AppHeader:
    """Decrypt an app package into its tar.gz payload, streaming; return the header.

    ``out_stream`` receives plaintext before the last chunk is checked: use it only if this
    returns. Raises :class:`NotAPackage`, :class:`UnsupportedFormat`, :class:`BadManifest`,
    :class:`WrongKey`, :class:`TamperedCiphertext`, :class:`Truncated` or :class:`TooLarge`.
    """
    return decrypt_stream(stream_in, platform_private_key, out_stream, limits)


def inspect_app_header(
    path: str | os.PathLike[str], limits: PackageLimits = DEFAULT_LIMITS
) -> AppHeader:
    """Read an app package's header without any key (not yet authenticated: decryption is
    what proves it). Raises like :func:`decrypt_app` does for a bad header."""
    with open(path, "rb") as f:
        return read_header(f, limits)[0]


def unpack_app(
    package_path: str | os.PathLike[str],
    platform_private_key: PlatformPrivateKey,
    dest: str | os.PathLike[str],
    limits: PackageLimits = DEFAULT_LIMITS,
) -> AppHeader:
    """Decrypt and safely extract an app package into ``dest`` (absent or empty).

    Also checks that the app.toml inside equals the header's (else :class:`BadManifest`
    naming the field). Raises what :func:`decrypt_app` and :func:`safe_extract` raise; on
    error ``dest`` is left empty.
    """
    dest = Path(dest)
    with tempfile.NamedTemporaryFile(dir=dest.parent, suffix=".tar.gz") as payload:
        with open(package_path, "rb") as f:
            header = decrypt_app(f, platform_private_key, payload, limits)
        payload.flush()
        safe_extract(payload.name, dest, limits)
    try:
        _same_manifest(header.app, load_app_manifest(dest, limits))
    except BaseException:
        clear_dir(dest)
        raise
    return header


def verify_app(
    stream_in: IO[bytes],
    platform_private_key: PlatformPrivateKey,
    limits: PackageLimits = DEFAULT_LIMITS,
    *,
    tmp_dir: str | os.PathLike[str] | None = None,
) -> AppHeader:
    """Check an app package fully without unpacking it; for the registry at upload.

    Decrypts the whole payload into a temporary file (in ``tmp_dir``), checks the archive's entries
    and limits as :func:`safe_extract` would, and that its app.toml equals the header's.
    Returns the header; raises what :func:`unpack_app` raises.
    """
    with tempfile.TemporaryFile(dir=tmp_dir) as payload:
        header = decrypt_app(stream_in, platform_private_key, payload, limits)
        payload.seek(0)
        kept = scan_archive(payload, limits, keep={APP_TOML})
    if APP_TOML not in kept:
        raise BadManifest(f"the app package holds no {APP_TOML}", field="(document)")
    _same_manifest(header.app, _parse_app_toml_bytes(kept[APP_TOML]))
    return header


def _same_manifest(outside: AppManifest, inside: AppManifest) -> None:
    for field in AppManifest.model_fields:
        if getattr(outside, field) != getattr(inside, field):
            raise BadManifest(
                f"{APP_TOML}: field {field!r} inside the package differs from its header",
                field=field,
            )

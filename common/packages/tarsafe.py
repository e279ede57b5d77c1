"""Reading untrusted tar archives: member checks and :func:`safe_extract`.

Only plain files and directories with relative names inside the destination are accepted;
links, devices, FIFOs, sparse files, ``..`` and absolute names are refused. Sizes are counted
while reading and the first byte over a limit stops the work.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import tarfile
import zlib
from pathlib import Path
from typing import IO, Any

from common.packages.errors import NotAPackage, PackageError, TooLarge, Truncated, UnsafePath
from common.packages.limits import KiB, PackageLimits

COPY_BLOCK = 64 * KiB
ENTRY_OVERHEAD = 4 * KiB  # headers and padding a tar stream may spend on each entry
_META_TYPES = (
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
)
_ALLOWED_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.DIRTYPE)
_DRIVE = re.compile(r"^[A-Za-z]:")


def guarded_tarinfo(max_meta_bytes: int) -> type[tarfile.TarInfo]:
    """A TarInfo class that refuses pax / GNU long-name headers over ``max_meta_bytes``.

    ``tarfile`` reads such a header whole into memory, so its size is checked first.
    """

    class GuardedTarInfo(tarfile.TarInfo):
        def _proc_member(self, tarfile: Any) -> Any:
            if self.type in _META_TYPES and self.size > max_meta_bytes:
                raise TooLarge(f"archive metadata header of {self.size} bytes")
            return super()._proc_member(tarfile)  # type: ignore[misc]

    return GuardedTarInfo


def safe_name(name: str) -> str:
    """Normalise a member name (drop ``.`` and empty parts) or raise :class:`UnsafePath`."""
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        raise UnsafePath(f"archive entry {name!r} is an absolute path")
    if "\\" in name:
        raise UnsafePath(f"archive entry {name!r} contains a backslash")
    raw_parts = name.split("/")
    if ".." in raw_parts:
        raise UnsafePath(f"archive entry {name!r} contains '..'")
    parts = [part for part in raw_parts if part not in ("", ".")]
    if not parts:
        raise UnsafePath(f"archive entry {name!r} has no name")
    return "/".join(parts)


def check_member(info: tarfile.TarInfo) -> str:
    """Return the member's safe name; raise :class:`UnsafePath` for links, devices and the like."""
    name = safe_name(info.name)
    if info.issym() or info.islnk():
        kind = "symbolic" if info.issym() else "hard"
        raise UnsafePath(f"archive entry {name!r} is a {kind} link (to {info.linkname!r})")
    if info.ischr() or info.isblk() or info.isfifo():
        raise UnsafePath(f"archive entry {name!r} is a device or FIFO")
    if info.type not in _ALLOWED_TYPES:
        raise UnsafePath(f"archive entry {name!r} has unsupported type {info.type!r}")
    return name


class CountingReader:
    """Wraps a binary stream; raises :class:`TooLarge` once more than ``limit`` bytes are read.

    Maps gzip errors of a wrapped ``GzipFile`` to :class:`Truncated` / :class:`NotAPackage`.
    """

    def __init__(self, raw: IO[bytes], limit: int, what: str) -> None:
        self.raw, self.limit, self.what, self.count = raw, limit, what, 0

    def read(self, size: int = -1) -> bytes:
        try:
            data = self.raw.read(size)
        except EOFError:
            raise Truncated(f"{self.what}: compressed data ends early") from None
        except (gzip.BadGzipFile, zlib.error) as exc:
            raise NotAPackage(f"{self.what}: corrupt gzip data ({exc})") from None
        self.count += len(data)
        if self.count > self.limit:
            raise TooLarge(f"{self.what}: inflates past {self.limit} bytes")
        return data


def _open_stream(f: IO[bytes], limits: PackageLimits, what: str) -> CountingReader:
    magic = f.read(2)
    f.seek(0)
    raw_limit = limits.max_unpacked_bytes + (limits.max_entries + 16) * ENTRY_OVERHEAD
    source: IO[bytes] = f
    if magic == b"\x1f\x8b":
        source = gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[assignment]
    return CountingReader(source, raw_limit, what)


def _prepare_dest(dest: Path) -> None:
    dest.mkdir(exist_ok=True)
    if any(dest.iterdir()):
        raise PackageError(f"{dest}: extraction needs an empty directory")


def clear_dir(dest: Path) -> None:
    """Remove everything inside ``dest``."""
    for child in dest.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def safe_extract(
    tar_path: str | os.PathLike[str], dest: str | os.PathLike[str], limits: PackageLimits
) -> list[str]:
    """Extract a tar or tar.gz into ``dest`` (absent or empty); return the files' names.

    Raises :class:`UnsafePath` (``..``, absolute, link, device, duplicate), :class:`TooLarge`
    (entries, total size, inflation, metadata headers), :class:`Truncated` or
    :class:`NotAPackage`; on any error ``dest`` is left empty.
    """
    dest = Path(dest)
    _prepare_dest(dest)
    try:
        with open(tar_path, "rb") as f:
            return _extract_stream(_open_stream(f, limits, str(tar_path)), dest, limits)
    except BaseException:
        clear_dir(dest)
        raise


def _extract_stream(reader: CountingReader, dest: Path, limits: PackageLimits) -> list[str]:
    tarinfo = guarded_tarinfo(limits.max_tar_meta_bytes)
    try:
        with tarfile.open(fileobj=reader, mode="r|", tarinfo=tarinfo) as tar:  # type: ignore[call-overload]
            files = _extract_members(tar, dest, limits)
    except tarfile.ReadError as exc:
        if "unexpected end of data" in str(exc):
            raise Truncated(f"{reader.what}: archive ends early") from None
        raise NotAPackage(f"{reader.what}: not a tar archive ({exc})") from None
    while reader.read(COPY_BLOCK):  # drain: checks the gzip trailer and counts what follows
        pass
    return files


def _extract_members(tar: tarfile.TarFile, dest: Path, limits: PackageLimits) -> list[str]:
    files: list[str] = []
    entries = written = 0
    for info in tar:
        entries += 1
        if entries > limits.max_entries:
            raise TooLarge(f"archive has more than {limits.max_entries} entries")
        name = check_member(info)
        if info.isdir():
            _make_dir(dest, name, name)
            continue
        if written + info.size > limits.max_unpacked_bytes:
            raise TooLarge(f"archive unpacks past {limits.max_unpacked_bytes} bytes (at {name!r})")
        written += _write_file(tar, info, dest, name, limits.max_unpacked_bytes - written)
        files.append(name)
    return files


def _make_dir(dest: Path, directory: str, entry: str) -> None:
    try:
        (dest / directory).mkdir(mode=0o755, parents=True, exist_ok=True)
    except OSError as exc:
        raise UnsafePath(f"archive entry {entry!r}: clashes with a file ({exc.strerror})") from None


def _write_file(
    tar: tarfile.TarFile, info: tarfile.TarInfo, dest: Path, name: str, budget: int
) -> int:
    src = tar.extractfile(info)
    assert src is not None  # regular members always have data
    target = dest / name
    mode = 0o755 if info.mode & 0o111 else 0o644
    _make_dir(dest, str(Path(name).parent), name)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except FileExistsError:
        raise UnsafePath(f"archive entry {name!r} appears twice") from None
    except OSError as exc:
        raise UnsafePath(f"archive entry {name!r}: cannot create ({exc.strerror})") from None
    count = 0
    with os.fdopen(fd, "wb") as out:
        while block := src.read(COPY_BLOCK):
            count += len(block)
            if count > budget:
                raise TooLarge(f"archive unpacks past its limit (at {name!r})")
            out.write(block)
    return count

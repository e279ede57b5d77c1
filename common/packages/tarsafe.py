"""Reading untrusted tar archives: member checks and :func:`safe_extract`.

Only plain files and directories with relative names inside the destination are accepted;
links, devices, FIFOs, sparse files, ``..`` and absolute names are refused. Sizes are counted
while reading and the first byte over a limit stops the work.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tarfile
import zlib
from collections.abc import Collection, Iterator
from contextlib import contextmanager
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
    """Wraps a binary stream; raises :class:`TooLarge` once more than ``limit`` bytes are read."""

    def __init__(self, raw: Any, limit: int, what: str) -> None:
        self.raw, self.limit, self.what, self.count = raw, limit, what, 0

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.raw.read(size)
        self.count += len(data)
        if self.count > self.limit:
            raise TooLarge(f"{self.what}: inflates past {self.limit} bytes")
        return data


class GunzipReader:
    """Streams one gzip member (RFC 1952), checking its CRC and length at the end.

    Returns at most ``size`` bytes per read however well the input compresses. Raises
    :class:`Truncated` if the input ends early and :class:`NotAPackage` for corrupt data or
    anything after the member.
    """

    def __init__(self, raw: IO[bytes], what: str) -> None:
        self.raw, self.what = raw, what
        self._z = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)

    def read(self, size: int = -1) -> bytes:
        limit = size if size > 0 else COPY_BLOCK
        while not self._z.eof:
            data = self._inflate(self._z.unconsumed_tail or self._next_input(), limit)
            if data:
                return data
        if self._z.unused_data or self.raw.read(1):
            raise NotAPackage(f"{self.what}: data after the gzip stream")
        return b""

    def _next_input(self) -> bytes:
        block = self.raw.read(COPY_BLOCK)
        if not block:
            raise Truncated(f"{self.what}: compressed data ends early")
        return block

    def _inflate(self, data: bytes, limit: int) -> bytes:
        try:
            return self._z.decompress(data, limit)
        except zlib.error as exc:
            raise NotAPackage(f"{self.what}: corrupt gzip data ({exc})") from None


def _open_stream(f: IO[bytes], limits: PackageLimits, what: str) -> CountingReader:
    magic = f.read(2)
    f.seek(0)
    raw_limit = limits.max_unpacked_bytes + (limits.max_entries + 16) * ENTRY_OVERHEAD
    source = GunzipReader(f, what) if magic == b"\x1f\x8b" else f
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


class _DiskTarget:
    """Creates the archive's directories and files under ``dest``."""

    def __init__(self, dest: Path) -> None:
        self.dest = dest

    def make_dir(self, directory: str, entry: str) -> None:
        try:
            (self.dest / directory).mkdir(mode=0o755, parents=True, exist_ok=True)
        except OSError as exc:
            raise UnsafePath(
                f"archive entry {entry!r}: clashes with a file ({exc.strerror})"
            ) from None

    def open_file(self, name: str, mode: int) -> IO[bytes]:
        self.make_dir(name.rpartition("/")[0], name)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        try:
            return os.fdopen(os.open(self.dest / name, flags, mode), "wb")
        except FileExistsError:
            raise UnsafePath(f"archive entry {name!r} appears twice") from None
        except OSError as exc:
            raise UnsafePath(f"archive entry {name!r}: cannot create ({exc.strerror})") from None


class _ScanTarget:
    """Checks names as :class:`_DiskTarget` would, writes nothing, keeps the files in ``keep``."""

    def __init__(self, keep: Collection[str], max_kept_bytes: int) -> None:
        self.keep, self.kept, self.max_kept = keep, dict[str, bytes](), max_kept_bytes
        self.files: set[str] = set()
        self.dirs: set[str] = set()

    def make_dir(self, directory: str, entry: str) -> None:
        parts = directory.split("/") if directory else []
        for i in range(1, len(parts) + 1):
            if "/".join(parts[:i]) in self.files:
                raise UnsafePath(f"archive entry {entry!r}: clashes with a file")
            self.dirs.add("/".join(parts[:i]))

    def open_file(self, name: str, mode: int) -> IO[bytes]:
        self.make_dir(name.rpartition("/")[0], name)
        if name in self.files or name in self.dirs:
            raise UnsafePath(f"archive entry {name!r} appears twice")
        self.files.add(name)
        return _Keeper(self, name) if name in self.keep else _Discard()


class _Discard(io.BytesIO):
    def write(self, data: Any) -> int:
        return len(data)


class _Keeper(io.BytesIO):
    """Keeps a file's bytes (up to the scan's limit) in ``kept`` when closed."""

    def __init__(self, scan: _ScanTarget, name: str) -> None:
        super().__init__()
        self._kept, self._name, self._max = scan.kept, name, scan.max_kept

    def write(self, data: Any) -> int:
        if self.tell() + len(data) > self._max:
            raise TooLarge(f"archive entry {self._name!r} is over {self._max} bytes")
        return super().write(data)

    def close(self) -> None:
        self._kept[self._name] = self.getvalue()
        super().close()


Source = str | os.PathLike[str] | IO[bytes]


@contextmanager
def _opened(source: Source) -> Iterator[tuple[IO[bytes], str]]:
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as f:
            yield f, str(source)
    else:
        yield source, "archive"


def safe_extract(
    tar_path: Source, dest: str | os.PathLike[str], limits: PackageLimits
) -> list[str]:
    """Extract a tar or tar.gz (a path or a seekable binary file) into ``dest`` (absent or
    empty); return the names of the files written.

    Raises :class:`UnsafePath` (``..``, absolute, link, device, duplicate), :class:`TooLarge`
    (entries, total size, inflation, metadata headers), :class:`Truncated` or
    :class:`NotAPackage`; on any error ``dest`` is left empty.
    """
    dest = Path(dest)
    _prepare_dest(dest)
    try:
        with _opened(tar_path) as (f, what):
            return _extract_stream(_open_stream(f, limits, what), _DiskTarget(dest), limits)
    except BaseException:
        clear_dir(dest)
        raise


def scan_archive(
    tar_path: Source, limits: PackageLimits, keep: Collection[str] = ()
) -> dict[str, bytes]:
    """Check an archive exactly as :func:`safe_extract` would, writing nothing.

    Returns the contents of the files named in ``keep`` (each at most ``max_json_bytes``);
    raises what :func:`safe_extract` raises.
    """
    target = _ScanTarget(keep, limits.max_json_bytes)
    with _opened(tar_path) as (f, what):
        _extract_stream(_open_stream(f, limits, what), target, limits)
    return target.kept


_Target = _DiskTarget | _ScanTarget


def _extract_stream(reader: CountingReader, target: _Target, limits: PackageLimits) -> list[str]:
    tarinfo = guarded_tarinfo(limits.max_tar_meta_bytes)
    try:
        with tarfile.open(fileobj=reader, mode="r|", tarinfo=tarinfo) as tar:  # type: ignore[call-overload]
            files = _extract_members(tar, target, limits)
    except tarfile.ReadError as exc:
        if "unexpected end of data" in str(exc):
            raise Truncated(f"{reader.what}: archive ends early") from None
        raise NotAPackage(f"{reader.what}: not a tar archive ({exc})") from None
    while reader.read(COPY_BLOCK):  # drain: checks the gzip trailer and counts what follows
        pass
    return files


def _extract_members(tar: tarfile.TarFile, target: _Target, limits: PackageLimits) -> list[str]:
    files: list[str] = []
    entries = written = 0
    for info in tar:
        entries += 1
        if entries > limits.max_entries:
            raise TooLarge(f"archive has more than {limits.max_entries} entries")
        name = check_member(info)
        if info.isdir():
            target.make_dir(name, name)
            continue
        if written + info.size > limits.max_unpacked_bytes:
            raise TooLarge(f"archive unpacks past {limits.max_unpacked_bytes} bytes (at {name!r})")
        written += _copy_member(tar, info, target, name, limits.max_unpacked_bytes - written)
        files.append(name)
    return files


def _copy_member(
    tar: tarfile.TarFile, info: tarfile.TarInfo, target: _Target, name: str, budget: int
) -> int:
    src = tar.extractfile(info)
    assert src is not None  # regular members always have data
    count = 0
    with target.open_file(name, 0o755 if info.mode & 0o111 else 0o644) as out:
        while block := src.read(COPY_BLOCK):
            count += len(block)
            if count > budget:
                raise TooLarge(f"archive unpacks past its limit (at {name!r})")
            out.write(block)
    return count

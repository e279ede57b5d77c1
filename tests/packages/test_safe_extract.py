"""safe_extract: plain files and directories only, inside the destination, within limits."""

from __future__ import annotations

import gzip
import io
import tarfile
import zlib
from pathlib import Path

import pytest

from common.packages import (
    NotAPackage,
    PackageError,
    PackageLimits,
    TooLarge,
    Truncated,
    UnsafePath,
    safe_extract,
    scan_archive,
)
from common.packages.limits import MiB
from tests.packages.helpers import member, write_tar

LIMITS = PackageLimits(max_unpacked_bytes=10 * MiB, max_entries=50)


def _dir(name: str) -> tuple[tarfile.TarInfo, bytes]:
    return member(name, type=tarfile.DIRTYPE, mode=0o755)


def test_extracts_files_and_directories(tmp_path: Path) -> None:
    archive = write_tar(
        tmp_path / "ok.tar.gz",
        [
            _dir("pkg"),
            member("pkg/a.py", b"print(1)\n", mode=0o4755),
            member("./b/c.txt", b"hello"),
            _dir("empty"),
        ],
        gz=True,
    )
    dest = tmp_path / "out"
    assert safe_extract(archive, dest, LIMITS) == ["pkg/a.py", "b/c.txt"]
    assert (dest / "pkg/a.py").read_bytes() == b"print(1)\n"
    assert (dest / "pkg/a.py").stat().st_mode & 0o7777 == 0o755  # no setuid
    assert (dest / "b/c.txt").read_text() == "hello"
    assert (dest / "empty").is_dir()


def test_plain_tar_too(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "ok.tar", [member("a.txt", b"a")])
    assert safe_extract(archive, tmp_path / "out", LIMITS) == ["a.txt"]


@pytest.mark.parametrize(
    "entry, problem",
    [
        (member("../evil.py", b"x"), "contains '..'"),
        (member("pkg/../../evil.py", b"x"), "contains '..'"),
        (member("/tmp/evil.py", b"x"), "absolute path"),
        (member("C:/evil.py", b"x"), "absolute path"),
        (member("pkg\\..\\evil.py", b"x"), "backslash"),
        (member("link", type=tarfile.SYMTYPE, linkname="/etc/passwd"), "symbolic link"),
        (member("link", type=tarfile.SYMTYPE, linkname="ok.txt"), "symbolic link"),
        (member("hard", type=tarfile.LNKTYPE, linkname="ok.txt"), "hard link"),
        (member("null", type=tarfile.CHRTYPE, devmajor=1, devminor=3), "device"),
        (member("sda", type=tarfile.BLKTYPE, devmajor=8, devminor=0), "device"),
        (member("pipe", type=tarfile.FIFOTYPE), "FIFO"),
        (member("ok.txt", b"again"), "appears twice"),
        (member("ok.txt/inside", b"x"), "clashes with a file"),
        (_dir("ok.txt"), "clashes with a file"),
    ],
)
def test_unsafe_entries_are_refused(
    tmp_path: Path, entry: tuple[tarfile.TarInfo, bytes], problem: str
) -> None:
    archive = write_tar(tmp_path / "evil.tar.gz", [member("ok.txt", b"fine"), entry], gz=True)
    dest = tmp_path / "out"
    with pytest.raises(UnsafePath, match=problem) as info:
        safe_extract(archive, dest, LIMITS)
    assert info.value.code == "unsafe_path"
    assert list(dest.iterdir()) == []
    assert not (tmp_path / "evil.py").exists()
    with pytest.raises(UnsafePath, match=problem):
        scan_archive(archive, LIMITS)


def test_scan_checks_without_writing(tmp_path: Path) -> None:
    archive = write_tar(
        tmp_path / "ok.tar.gz",
        [_dir("d"), member("d/app.toml", b'name = "x"\n'), member("big.bin", b"\0" * 5000)],
        gz=True,
    )
    assert scan_archive(archive, LIMITS, keep={"d/app.toml"}) == {"d/app.toml": b'name = "x"\n'}
    with open(archive, "rb") as f:
        assert scan_archive(f, LIMITS) == {}
    with pytest.raises(TooLarge, match="'big.bin' is over"):
        scan_archive(archive, PackageLimits(max_json_bytes=4096), keep={"big.bin"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.tar.gz"]


def test_too_many_entries(tmp_path: Path) -> None:
    entries = [member(f"f{i}.txt", b"x") for i in range(51)]
    with pytest.raises(TooLarge, match="more than 50 entries"):
        safe_extract(write_tar(tmp_path / "many.tar", entries), tmp_path / "out", LIMITS)


def test_files_adding_up_past_the_limit(tmp_path: Path) -> None:
    entries = [member(f"f{i}.bin", b"\0" * MiB) for i in range(11)]
    archive = write_tar(tmp_path / "big.tar.gz", entries, gz=True)
    with pytest.raises(TooLarge, match="unpacks past") as info:
        safe_extract(archive, tmp_path / "out", LIMITS)
    assert info.value.status == 413
    assert list((tmp_path / "out").iterdir()) == []


def test_gzip_bomb_one_huge_file(tmp_path: Path) -> None:
    """200 MB of zeros in a ~200 kB file: refused from its header, before any write."""
    archive = tmp_path / "bomb.tar.gz"
    with gzip.open(archive, "wb", compresslevel=9) as gz:
        with tarfile.open(fileobj=gz, mode="w|") as tar:
            info = tarfile.TarInfo("zeros.bin")
            info.size = 200 * MiB
            tar.addfile(info, _Zeros(info.size))
    assert archive.stat().st_size < MiB
    with pytest.raises(TooLarge):
        safe_extract(archive, tmp_path / "out", LIMITS)


def test_gzip_bomb_hidden_after_the_archive(tmp_path: Path) -> None:
    """A small valid tar followed by 100 MB of zeros in the same gzip stream: counted and cut."""
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w") as tar:
        info = tarfile.TarInfo("a.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"a"))
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip wrapper
    parts = [compressor.compress(inner.getvalue())]
    parts += [compressor.compress(b"\0" * MiB) for _ in range(100)]
    archive = tmp_path / "bomb.tar.gz"
    archive.write_bytes(b"".join(parts) + compressor.flush())
    assert archive.stat().st_size < MiB
    with pytest.raises(TooLarge, match="inflates past"):
        safe_extract(archive, tmp_path / "out", LIMITS)
    assert list((tmp_path / "out").iterdir()) == []
    with pytest.raises(TooLarge, match="inflates past"):
        scan_archive(archive, LIMITS)


def test_oversized_metadata_header(tmp_path: Path) -> None:
    info, data = member("a.txt", b"a")
    info.pax_headers = {"comment": "x" * 100_000}
    with pytest.raises(TooLarge, match="metadata header"):
        safe_extract(write_tar(tmp_path / "pax.tar", [(info, data)]), tmp_path / "out", LIMITS)


def test_truncated_archive(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "t.tar.gz", [member("a.bin", bytes(range(256)) * 400)], gz=True)
    archive.write_bytes(archive.read_bytes()[:-30])
    with pytest.raises(Truncated):
        safe_extract(archive, tmp_path / "out", LIMITS)


def test_corrupt_gzip(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "c.tar.gz", [member("a.txt", b"a" * 1000)], gz=True)
    data = bytearray(archive.read_bytes())
    data[-6] ^= 0xFF  # inside the CRC32 of the trailer
    archive.write_bytes(bytes(data))
    with pytest.raises(NotAPackage, match="gzip"):
        safe_extract(archive, tmp_path / "out", LIMITS)


@pytest.mark.parametrize("tail", [b"\0" * 10 * MiB, b"junk", gzip.compress(b"second member")])
def test_anything_after_the_gzip_member(tmp_path: Path, tail: bytes) -> None:
    archive = write_tar(tmp_path / "t.tar.gz", [member("a.txt", b"a")], gz=True)
    archive.write_bytes(archive.read_bytes() + tail)
    with pytest.raises(NotAPackage, match="after the gzip stream"):
        safe_extract(archive, tmp_path / "out", LIMITS)


def test_not_a_tar(tmp_path: Path) -> None:
    path = tmp_path / "x.tar"
    path.write_bytes(b"hello world" * 100)
    with pytest.raises(NotAPackage):
        safe_extract(path, tmp_path / "out", LIMITS)


def test_destination_must_be_empty(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    archive = write_tar(tmp_path / "ok.tar", [member("a.txt", b"a")])
    with pytest.raises(PackageError, match="empty directory"):
        safe_extract(archive, dest, LIMITS)
    assert (dest / "keep.txt").read_text() == "mine"


class _Zeros(io.RawIOBase):
    """A readable stream of ``size`` zero bytes, made on the fly."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, b: memoryview) -> int:  # type: ignore[override]
        n = min(len(b), self.left)
        b[:n] = bytes(n)
        self.left -= n
        return n

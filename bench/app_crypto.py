"""App package encryption (age through pyrage): time and peak memory of encrypting and
decrypting a large payload. Prints figures only.

Encrypts ``--mib`` MiB made on the fly into a temporary package file (format version 2,
docs/package-formats.md §4), decrypts it into a hashing sink, and reports for each step the
wall time and how far the process's peak RSS (VmHWM, reset before the step) rose.

    .venv/bin/python bench/app_crypto.py [--mib 512]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.packages import (  # noqa: E402
    PackageLimits,
    decrypt_app,
    generate_platform_key,
    parse_app_toml,  # noqa: E402
)
from common.packages.appcrypto import encrypt_stream  # noqa: E402
from common.packages.keys import platform_key_from_pem  # noqa: E402
from common.packages.limits import MiB  # noqa: E402
from tests.packages.conftest import APP_TOML  # noqa: E402
from tests.packages.test_streaming_memory import HashSink, Payload, peak_of  # noqa: E402


def main(mib: int) -> None:
    key = platform_key_from_pem(generate_platform_key()[0])
    payload, sink = Payload(mib * MiB), HashSink()
    with tempfile.TemporaryDirectory() as folder:
        package = Path(folder) / "big.mpapp"
        start = time.perf_counter()
        with open(package, "wb") as out:
            _, enc_peak = peak_of(lambda: encrypt_stream(
                payload, out, key.public_key, parse_app_toml(APP_TOML)))  # type: ignore[arg-type]
        enc_s, size = time.perf_counter() - start, package.stat().st_size
        start = time.perf_counter()
        with open(package, "rb") as f:
            _, dec_peak = peak_of(lambda: decrypt_app(
                f, key, sink, PackageLimits(max_app_bytes=mib * MiB)))  # type: ignore[arg-type]
        dec_s = time.perf_counter() - start
    assert sink.sha256.digest() == payload.sha256.digest()
    print(f"payload {mib} MiB -> package {size} bytes (+{size - mib * MiB} bytes)")
    print(f"encrypt {enc_s:.2f} s ({mib / enc_s:.0f} MiB/s), peak RSS +{enc_peak / MiB:.1f} MiB")
    print(f"decrypt {dec_s:.2f} s ({mib / dec_s:.0f} MiB/s), peak RSS +{dec_peak / MiB:.1f} MiB")
    print(f"app_crypto: mib={mib} encrypt_s={enc_s:.2f} decrypt_s={dec_s:.2f} "
          f"encrypt_peak_mib={enc_peak / MiB:.1f} decrypt_peak_mib={dec_peak / MiB:.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mib", type=int, default=512, choices=range(1, 4097),
                        metavar="1..4096")
    main(parser.parse_args().mib)

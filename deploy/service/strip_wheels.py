"""Strip the symbol tables from the shared libraries inside wheels, in place (host side of
deploy/build-images.sh; pyarrow's libraries alone shrink by about a fifth):

    python3 deploy/service/strip_wheels.py WHEEL_DIR

Uses binutils' ``strip --strip-unneeded`` and does nothing when it is missing. pip does not
check the hashes in a wheel's RECORD on install, so the wheel stays installable.
"""

import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

SHARED = re.compile(r"\.so(\.\d+)*$")


def strip_wheel(wheel: Path, strip: str) -> int:
    """Rewrite ``wheel`` with its shared libraries stripped; return the bytes saved."""
    with zipfile.ZipFile(wheel) as old:
        names = [i for i in old.infolist() if SHARED.search(i.filename)]
        if not names:
            return 0
        before = wheel.stat().st_size
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / wheel.name
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as new:
                for info in old.infolist():
                    data = old.read(info)
                    if SHARED.search(info.filename):
                        lib = Path(tmp) / "lib.so"
                        lib.write_bytes(data)
                        subprocess.run([strip, "--strip-unneeded", str(lib)], check=False,
                                       capture_output=True)
                        data = lib.read_bytes()
                    new.writestr(info, data)
            shutil.move(out, wheel)
    return before - wheel.stat().st_size


def main(folder: str) -> None:
    strip = shutil.which("strip")
    if strip is None:
        print("strip_wheels: no strip here (binutils); wheels left as they are", file=sys.stderr)
        return
    saved = sum(strip_wheel(w, strip) for w in sorted(Path(folder).glob("*.whl")))
    print(f"strip_wheels: {saved / 1e6:.1f} MB less (compressed)", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])

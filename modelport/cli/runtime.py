"""``modelport runtime pack|upload|list``: sign a runtime image into a package, publish it."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import click

from common.packages import PackageError, SigningKey, check_semver, load_signing_key, pack_runtime
from modelport.cli import runtime_image as images
from modelport.cli.output import console, listing, note, size, transfer, when
from modelport.cli.remote import Failed, call

PASSPHRASE_ENV = "MODELPORT_KEY_PASSPHRASE"
EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def runtime() -> None:
    """Runtimes: signed packages of the image sessions and solve jobs run in."""


@runtime.command("pack")
@click.argument("image", required=False)
@click.option("--key", "key_file", required=True, type=EXISTING_FILE,
              help="Publisher private key (from `modelport keys new`).")
@click.option("--version", help="Runtime version (SemVer) [default: the image's "
              f"{images.VERSION_LABEL} label, or the project's version when building].")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Package file [default: runtime-VERSION.mprt].")
def pack(image: str | None, key_file: Path, version: str | None, output: Path | None) -> None:
    """Save IMAGE with its manifest into a runtime package signed with --key.

    Without IMAGE, the project's deploy/runtime/build-runtime-image.sh builds it (offline,
    reused while its inputs are unchanged). The manifest's Python and HiGHS versions come from
    running the image (no network), its digest from `docker image inspect`.
    """
    started = time.monotonic()
    signing_key = _signing_key(key_file)
    if version is not None:
        _check_version(version)
    try:
        image = image or _build(version)
        info = images.inspect(image)
        version = _check_version(version or _label_version(image, info))
        python, highspy = images.probe(image)
    except images.DockerFailed as exc:
        raise Failed(str(exc)) from None
    fields = {
        "runtime_version": version, "python_version": python, "solvers": {"highs": highspy},
        "image_reference": _reference(image, info), "image_digest": info.id,
    }
    out = output or Path(f"runtime-{version}.mprt")
    _save_and_pack(image, info, fields, signing_key, out)
    click.echo(str(out))
    note(f"runtime {version}: python {python}, highs {highspy}, {info.id[:19]}, "
         f"{size(out.stat().st_size)}, signed by {signing_key.key_id} "
         f"({time.monotonic() - started:.1f} s)")


def _signing_key(path: Path) -> SigningKey:
    passphrase = os.environ.get(PASSPHRASE_ENV)
    if passphrase is None and b"ENCRYPTED" in path.read_bytes()[:64]:
        passphrase = click.prompt(f"Passphrase of {path}", hide_input=True)
    try:
        return load_signing_key(path, passphrase.encode() if passphrase else None)
    except PackageError as exc:
        raise Failed(exc.message) from None


def _check_version(version: str) -> str:
    try:
        return check_semver(version)
    except ValueError as exc:
        raise Failed(f"runtime version: {exc}") from None


def _build(version: str | None) -> str:
    note("building the runtime image (reused when unchanged)")
    tag = images.build(version)
    note(f"image {tag}")
    return tag


def _label_version(image: str, info: images.ImageInfo) -> str:
    found = info.labels.get(images.VERSION_LABEL)
    if not found:
        raise Failed(f"{image} has no {images.VERSION_LABEL} label: give --version")
    return found


def _reference(image: str, info: images.ImageInfo) -> str:
    """The name the manifest records: IMAGE as given unless it is a bare id."""
    is_id = image.startswith("sha256:") or info.id.removeprefix("sha256:").startswith(image)
    return info.tags[0] if is_id and info.tags else image


def _save_and_pack(image: str, info: images.ImageInfo, fields: Mapping[str, object],
                   signing_key: SigningKey, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".mprt-", dir=out.parent) as tmp:
        image_tar = Path(tmp) / "image.tar"
        try:
            with transfer(f"docker save {image}") as bar:
                images.save(image, image_tar, bar, estimate=info.size or None)
            with console(stderr=True).status("hashing, signing and packing"):
                pack_runtime(image_tar, fields, signing_key, out)
        except images.DockerFailed as exc:
            raise Failed(str(exc)) from None
        except PackageError as exc:
            raise Failed(exc.message) from None


@runtime.command("upload")
@click.argument("file", type=EXISTING_FILE)
def upload(file: Path) -> None:
    """Upload a runtime package; the portal verifies its signature and registers it."""
    with transfer(f"upload {file.name}") as bar:
        registered = call(lambda portal: portal.upload_runtime(file, bar))
    click.echo(f"registered runtime {registered.get('version')} (id {registered.get('id')}, "
               f"signed by {registered.get('signer_key_id')})")


@runtime.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the portal's JSON.")
def list_(as_json: bool) -> None:
    """List the registered runtimes."""
    runtimes = call(lambda portal: portal.list_runtimes())
    listing(runtimes, as_json,
            lambda r: {"size": size(r.get("size_bytes")), "created": when(r.get("created_at")),
                       **_manifest_cells(r)},
            [("VERSION", "version"), ("PYTHON", "python"), ("SOLVERS", "solvers"),
             ("SIGNER", "signer_key_id"), ("SIZE", "size"), ("CREATED", "created")],
            "no runtimes registered")


def _manifest_cells(row: dict[str, object]) -> dict[str, str]:
    manifest = row.get("manifest")
    manifest = manifest if isinstance(manifest, dict) else {}
    solvers = manifest.get("solvers") if isinstance(manifest.get("solvers"), dict) else {}
    return {"python": str(manifest.get("python_version", "?")),
            "solvers": ", ".join(f"{k} {v}" for k, v in (solvers or {}).items())}

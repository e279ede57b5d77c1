"""The first start of a compose or Swarm stack: make the platform ready to use.

The one-shot ``bootstrap`` service runs :func:`bootstrap` once the portal answers: it signs
the runtime image (built by compose as the ``runtime`` service) with the stack's own
development publisher key, registers it, publishes the example apps, and ends its log with
the portal's URL and the admin's log-in. Every step goes through the same functions the CLI
uses (:func:`common.packages.pack_runtime`, :func:`common.packages.pack_app`,
:class:`modelport.client.PortalClient`), so packages follow their formats wherever those
change. Running it again changes nothing: what is registered already is left alone.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiodocker
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.packages import (
    DEFAULT_LIMITS,
    load_app_manifest,
    load_signing_key,
    pack_app,
    pack_runtime,
)
from common.packages.app import APP_TOML
from modelport.client import ApiError, ClientError, PortalClient

CHUNK = 1 << 20
ANNOUNCED = ".admin-announced"
Say = Callable[[str], None]


class BootstrapSettings(BaseSettings):
    """What the bootstrap step reads (``MODELPORT_*``); the secrets come from files."""

    model_config = SettingsConfigDict(env_prefix="MODELPORT_", extra="ignore")

    portal_url: str = Field("http://portal:8080", description="The portal, seen from here.")
    public_url: str = Field("", description="The portal, seen from a browser.")
    port: int = Field(8080, description="Host port of the portal (for the printed URL).")
    admin_user: str = Field("admin", description="The stack's first admin.")
    admin_password: SecretStr = Field(SecretStr(""), description="Their password.")
    admin_password_given: str = Field("", description="Not empty when .env gave the password.")
    publisher_key_file: str = Field(..., description="The stack's development publisher key.")
    runtime_image: str = Field(..., description="Tag of the runtime image to register.")
    runtime_version: str = Field("1.0.0", description="Its version (examples need >= 1.0).")
    examples_dir: str = Field("/opt/modelport/share/examples", description="Apps to publish.")
    wait_s: float = Field(300.0, gt=0, description="How long to wait for the portal.")


@dataclass(frozen=True)
class Published:
    """What a bootstrap run did: runtime newly registered or not, apps newly published."""

    runtime: bool
    apps: list[str]


async def wait_for_portal(url: str, deadline_s: float) -> None:
    """Return once ``url``/readyz answers 200; TimeoutError after ``deadline_s``."""
    import aiohttp

    async with asyncio.timeout(deadline_s), aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(url.rstrip("/") + "/readyz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)


async def save_image(tag: str, dest: Path) -> str:
    """``docker save`` of ``tag`` through the engine's API into ``dest``; return the image id."""
    async with aiodocker.Docker() as docker:
        image_id = str((await docker.images.inspect(tag))["Id"])
        with dest.open("wb") as out:
            async with docker.images.export_image(tag) as stream:
                while data := await stream.read(CHUNK):
                    out.write(data)
    return image_id


async def register_runtime(portal: PortalClient, cfg: BootstrapSettings, work: Path) -> bool:
    """Sign and upload the runtime unless its version is registered; True when uploaded."""
    if any(r.get("version") == cfg.runtime_version for r in await portal.list_runtimes()):
        return False
    image_tar, package = work / "image.tar", work / "runtime.mprt"
    image_id = await save_image(cfg.runtime_image, image_tar)
    fields = {"runtime_version": cfg.runtime_version, "python_version": "3.11",
              "solvers": {"highs": "bundled"}, "image_reference": cfg.runtime_image,
              "image_digest": image_id}
    key = load_signing_key(Path(cfg.publisher_key_file))
    await asyncio.to_thread(pack_runtime, image_tar, fields, key, package)
    image_tar.unlink()
    await portal.upload_runtime(package)
    return True


def app_folders(examples: Path) -> list[Path]:
    """The app folders (holding an ``app.toml``) directly under ``examples``, by name."""
    return sorted(p for p in examples.iterdir() if (p / APP_TOML).is_file())


async def publish_examples(portal: PortalClient, examples: Path, work: Path) -> list[str]:
    """Pack and publish every example app not published yet; the names published."""
    have = {(a.get("name"), v.get("version")) for a in await portal.list_apps()
            for v in a.get("versions", [])}
    key = await portal.platform_key()
    done = []
    for src in await asyncio.to_thread(app_folders, examples):
        manifest = load_app_manifest(src, DEFAULT_LIMITS)
        if (manifest.name, manifest.version) in have:
            continue
        out = work / f"{src.name}.mpapp"
        await asyncio.to_thread(pack_app, src, key, out)
        try:
            await portal.upload_app(out, activate=True)
        except ApiError as exc:
            if exc.status != 409:  # 409: published meanwhile (another bootstrap replica)
                raise
        done.append(manifest.name)
    return done


async def bootstrap(cfg: BootstrapSettings, say: Say) -> Published:
    """Wait for the portal, log in as the admin, register the runtime, publish the examples."""
    started = time.monotonic()
    await wait_for_portal(cfg.portal_url, cfg.wait_s)
    say(f"portal answers ({time.monotonic() - started:.1f} s)")
    async with PortalClient(cfg.portal_url) as anonymous:
        login = await anonymous.login(cfg.admin_user, cfg.admin_password.get_secret_value())
    async with PortalClient(cfg.portal_url, str(login["token"])) as portal:
        try:
            with tempfile.TemporaryDirectory(prefix="modelport-bootstrap-") as tmp:
                runtime = await register_runtime(portal, cfg, Path(tmp))
                say(f"runtime {cfg.runtime_version}: "
                    f"{'registered' if runtime else 'already registered'}")
                apps = await publish_examples(portal, Path(cfg.examples_dir), Path(tmp))
                say(f"examples published: {', '.join(apps) or 'all were already'}")
        finally:
            await portal.logout()
    return Published(runtime, apps)


def banner(cfg: BootstrapSettings, marker_dir: Path) -> list[str]:
    """The closing lines: the URL and the log-in. A generated password is shown only on the
    first start (a marker file in ``marker_dir`` remembers it was)."""
    url = cfg.public_url.rstrip("/") or f"http://localhost:{cfg.port}"
    marker = marker_dir / ANNOUNCED
    if cfg.admin_password_given:
        login = f"log in as {cfg.admin_user} with MODELPORT_ADMIN_PASSWORD from your .env"
    elif not marker.exists():
        login = (f"log in as {cfg.admin_user} / {cfg.admin_password.get_secret_value()}  "
                 "(generated; shown this once, kept in the stack's secrets volume)")
        try:
            marker.touch()
        except OSError:
            pass
    else:
        login = (f"log in as {cfg.admin_user}; the generated password was shown at the first "
                 "start (see docs/deploy.md to read it again)")
    return [f"Modelport is ready: {url}", login]


__all__ = ["BootstrapSettings", "ClientError", "Published", "banner", "bootstrap"]

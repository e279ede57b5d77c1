"""``modelport app pack|upload|list|activate|rights``: encrypt an app for the platform, publish
it, say who may use and publish it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from common.packages import (
    DEFAULT_ALLOWED_IMPORTS,
    DEFAULT_LIMITS,
    PackageError,
    PlatformPublicKey,
    UnresolvedImports,
    load_app_manifest,
    load_platform_key,
    pack_app,
)
from modelport.cli.output import listing, note, size, transfer
from modelport.cli.remote import Failed, call
from modelport.client import PortalClient
from modelport.client import credentials as creds

EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def app() -> None:
    """Apps: packages of a model and its pages, encrypted for the platform."""


@app.command("pack")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--platform-key", "key_file", type=EXISTING_FILE,
              help="The platform's public key (an mp-x25519 line, the JSON of "
              "/api/v1/platform-key, or the private PEM) [default: fetched from the portal].")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Package file [default: NAME-VERSION.mpapp].")
def pack(directory: Path, key_file: Path | None, output: Path | None) -> None:
    """Check the app in DIRECTORY (app.toml, code, imports) and encrypt it for the platform.

    Without --platform-key the key comes from the portal you are signed in to (or
    MODELPORT_URL). Refusals name the app.toml field, or list each unresolved import as
    file:line: module.
    """
    key = _key_from_file(key_file) if key_file else _key_from_portal()
    try:
        manifest = load_app_manifest(directory, DEFAULT_LIMITS)
        out = output or Path(f"{manifest.name}-{manifest.version}.mpapp")
        pack_app(directory, key, out)
    except UnresolvedImports as exc:
        raise Failed(_unresolved(directory, exc)) from None
    except PackageError as exc:
        raise Failed(f"{directory}: {exc.message}") from None
    click.echo(str(out))
    note(f"app {manifest.name} {manifest.version} (runtime {manifest.runtime}): "
         f"{size(out.stat().st_size)}, encrypted for platform key {key.key_id}")


def _unresolved(directory: Path, exc: UnresolvedImports) -> str:
    allowed = ", ".join(sorted(DEFAULT_ALLOWED_IMPORTS))
    lines = [f"{directory}: imports that are neither the standard library, the app's own "
             f"modules, nor allowed ({allowed}):"]
    lines += [f"  {where}: {module}" for where, module in exc.imports]
    return "\n".join(lines)


def _key_from_file(path: Path) -> PlatformPublicKey:
    try:
        text = path.read_text("utf-8").strip()
        if text.startswith("-----BEGIN"):
            return load_platform_key(path).public_key
        if text.startswith("{"):
            return PlatformPublicKey.from_base64(str(json.loads(text)["public_key"]))
        return PlatformPublicKey.from_text(text.splitlines()[0] if text else "")
    except PackageError as exc:
        raise Failed(f"{path}: {exc.message}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise Failed(f"{path}: not a platform key ({exc})") from None


def _key_from_portal() -> PlatformPublicKey:
    who = creds.current()
    key = call(lambda portal: portal.platform_key(), who)
    note(f"platform key {key.key_id} from {who.url}")
    return key


@app.command("upload")
@click.argument("file", type=EXISTING_FILE)
@click.option("--no-activate", is_flag=True,
              help="Publish without making it the active version (the first version always is).")
def upload(file: Path, no_activate: bool) -> None:
    """Upload an app package; the portal decrypts and checks it, then publishes the version."""
    with transfer(f"upload {file.name}") as bar:
        published = call(lambda portal: portal.upload_app(file, activate=not no_activate,
                                                          progress=bar))
    state = "active" if published.get("active") else "not active"
    click.echo(f"published {published.get('app')} {published.get('version')} ({state})")


@app.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the portal's JSON.")
def list_(as_json: bool) -> None:
    """List the apps you can see, with their versions."""
    apps = call(lambda portal: portal.list_apps())
    listing(apps, as_json, lambda a: {"versions_text": _versions(a)},
            [("NAME", "name"), ("ACTIVE", "active_version"), ("VERSIONS", "versions_text"),
             ("TITLE", "title")], "no apps published")


def _versions(app_row: dict[str, object]) -> str:
    versions = app_row.get("versions")
    if not isinstance(versions, list):
        return "?"
    return ", ".join(str(v.get("version")) for v in versions if isinstance(v, dict))


@app.command("activate")
@click.argument("name")
@click.argument("version")
def activate(name: str, version: str) -> None:
    """Make VERSION the active version of app NAME (also to roll back)."""
    found = call(lambda portal: portal.activate_app(name, version))
    click.echo(f"{found.get('name', name)}: active version {found.get('active_version', version)}")


@app.command("rights")
@click.argument("name")
@click.option("--use", "use", multiple=True, metavar="GROUP",
              help="A group that may use the app (repeat; with --publish: replaces both lists).")
@click.option("--publish", "publish", multiple=True, metavar="GROUP",
              help="A group whose publishers may publish the app (repeat).")
@click.option("--everyone", is_flag=True, help="Open the app to every signed-in user "
              "(no use-groups); keeps the publish-groups unless --publish is given.")
def rights(name: str, use: tuple[str, ...], publish: tuple[str, ...], everyone: bool) -> None:
    """Show or set which groups may use and publish app NAME (its publishers, admins).

    Without options it shows them. An app with no use-groups may be used by everyone.
    """
    if use and everyone:
        raise click.UsageError("--use and --everyone contradict each other")
    if use or publish or everyone:
        found = call(lambda portal: _set_rights(portal, name, list(use), list(publish),
                                                keep_use=not (use or everyone)))
    else:
        found = call(lambda portal: portal.app_rights(name))
    click.echo(f"use: {', '.join(found.get('use') or []) or '(everyone)'}")
    click.echo(f"publish: {', '.join(found.get('publish') or []) or '-'} "
               f"(and its creator {found.get('owner') or '-'})")


async def _set_rights(portal: PortalClient, name: str, use: list[str], publish: list[str], *,
                      keep_use: bool) -> dict[str, Any]:
    """Set the lists given; a list not given keeps its groups."""
    if keep_use or not publish:
        now = await portal.app_rights(name)
        use = list(now.get("use") or []) if keep_use else use
        publish = publish or list(now.get("publish") or [])
    return await portal.set_app_rights(name, use=use, publish=publish)

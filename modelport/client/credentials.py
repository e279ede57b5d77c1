"""Where the CLI keeps the portal URL and API token between commands.

``<config dir>/credentials.json`` (mode 0600, folder 0700) holds ``{"url", "token",
"username"}``. The config dir is ``$MODELPORT_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/modelport``,
else ``~/.config/modelport``. ``MODELPORT_URL`` and ``MODELPORT_TOKEN`` override what the file
says, so scripts and CI need no file at all.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8080"
FILE_NAME = "credentials.json"


@dataclass(frozen=True)
class Credentials:
    """A portal URL and, once signed in, a token (and the name it was issued to)."""

    url: str
    token: str = ""
    username: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", self.url.rstrip("/"))


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    """The folder of the CLI's files (see the module's docstring)."""
    env = os.environ if env is None else env
    if env.get("MODELPORT_CONFIG_DIR"):
        return Path(env["MODELPORT_CONFIG_DIR"])
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "modelport"


def credentials_path(env: Mapping[str, str] | None = None) -> Path:
    """``<config dir>/credentials.json``."""
    return config_dir(env) / FILE_NAME


def read_file(env: Mapping[str, str] | None = None) -> Credentials | None:
    """What the credentials file holds, or None when there is none or it is unreadable."""
    try:
        data = json.loads(credentials_path(env).read_text("utf-8"))
        return Credentials(str(data["url"]), str(data.get("token", "")),
                           str(data.get("username", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def current(env: Mapping[str, str] | None = None) -> Credentials:
    """The credentials in force: the file's, overridden by ``MODELPORT_URL``/``MODELPORT_TOKEN``.

    Without a file or variables: the default URL and no token.
    """
    env = os.environ if env is None else env
    found = read_file(env) or Credentials(DEFAULT_URL)
    if env.get("MODELPORT_URL"):
        found = replace(found, url=env["MODELPORT_URL"].rstrip("/"))
    if env.get("MODELPORT_TOKEN"):
        found = replace(found, token=env["MODELPORT_TOKEN"], username="")
    return found


def save(credentials: Credentials, env: Mapping[str, str] | None = None) -> Path:
    """Write the credentials file atomically with mode 0600 (its folder 0700); return its path."""
    path = credentials_path(env)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(json.dumps(asdict(credentials), indent=1) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def delete(env: Mapping[str, str] | None = None) -> bool:
    """Remove the credentials file; True when there was one."""
    path = credentials_path(env)
    existed = path.exists()
    path.unlink(missing_ok=True)
    return existed

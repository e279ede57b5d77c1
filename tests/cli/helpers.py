"""Running the CLI in-process and making the files it works on."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from click.testing import CliRunner, Result

from modelport.cli.main import cli as modelport_cli

if TYPE_CHECKING:
    from modelport.case import Written
    from tests.support.stack import Stack

REPO = Path(__file__).resolve().parents[2]
TRANSPORT = REPO / "examples" / "transport"
CLEARED_ENV = ("MODELPORT_URL", "MODELPORT_TOKEN", "MODELPORT_PASSWORD",
               "MODELPORT_KEY_PASSPHRASE", "XDG_CONFIG_HOME")


def run_cli(*args: str, env: Mapping[str, str | None] | None = None,
            stdin: str | None = None) -> Result:
    """``modelport ARGS`` in this process; stdout and stderr apart on the result."""
    return CliRunner().invoke(
        modelport_cli, list(args), env=env, input=stdin, catch_exceptions=False
    )


def transport_case(path: Path) -> Written:
    """Write the transport example's default data as a case, described by its declarations."""
    from modelport.appkit.declarations import DataDecl
    from modelport.appkit.loader import load_app
    from modelport.case import IdentifierInfo, write_case

    app = load_app(TRANSPORT).app
    data = app.validate(app.default_data())
    infos = [IdentifierInfo(s.name, "set", (), "string") for s in app.of_kind("set")]
    infos += [IdentifierInfo(d.name, "parameter", d.domain, d.type.value, d.unit)
              for d in app.of_kind("parameter") if isinstance(d, DataDecl)]
    return write_case(path, "transport", "1.0.0", data, identifiers=infos)


async def cli(*args: str, env: Mapping[str, str | None] | None = None,
              stdin: str | None = None) -> Result:
    """:func:`run_cli` in a worker thread, so in-process servers on this loop keep serving."""
    return await asyncio.to_thread(run_cli, *args, env=env, stdin=stdin)


def signed_in(stack: Stack, token: str | None = None) -> dict[str, str | None]:
    """The environment of a CLI signed in to ``stack`` (as the admin unless ``token``)."""
    return {"MODELPORT_URL": stack.portal_url, "MODELPORT_TOKEN": token or stack.admin_token}

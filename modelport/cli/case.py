"""``modelport case upload|download|list|export|diff``: move cases to and from the platform,
and read case files offline."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from modelport.cli.output import (
    download_option,
    emit_json,
    listing,
    note,
    size,
    transfer,
    when,
)
from modelport.cli.remote import Failed, call
from modelport.cli.remote import download as download_file

if TYPE_CHECKING:
    from modelport.case import Case, CaseDiff

EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def case() -> None:
    """Cases: snapshots of an app's data (inputs and results)."""


@case.command("upload")
@click.argument("file", type=EXISTING_FILE)
@click.option("--app", "app_name", required=True, help="The app the case belongs to.")
@click.option("--name", help="Case name [default: the file name without its suffix].")
def upload(file: Path, app_name: str, name: str | None) -> None:
    """Upload a case file of app --app; prints the new case's id on stdout."""
    with transfer(f"upload {file.name}") as bar:
        stored = call(lambda portal: portal.upload_case(file, app=app_name, name=name or file.stem,
                                                        progress=bar))
    click.echo(str(stored.get("id")))
    note(f"case {stored.get('name')!r} of {stored.get('app')}: {size(stored.get('size_bytes'))}")


@case.command("download")
@click.argument("case_id")
@download_option("File")
def download(case_id: str, output: Path) -> None:
    """Download case CASE_ID, checked against the sha256 the portal announces."""
    download_file(f"download {case_id}",
                  lambda portal, bar: portal.download_case(case_id, output, bar), output)


@case.command("list")
@click.option("--app", "app_name", help="Only cases of this app.")
@click.option("--json", "as_json", is_flag=True, help="Print the portal's JSON.")
def list_(app_name: str | None, as_json: bool) -> None:
    """List the cases you can see (yours and those shared with your groups)."""
    cases = call(lambda portal: portal.list_cases(app_name))
    listing(cases, as_json,
            lambda c: {"size": size(c.get("size_bytes")), "created": when(c.get("created_at"))},
            [("ID", "id"), ("NAME", "name"), ("APP", "app"), ("OWNER", "owner"),
             ("SIZE", "size"), ("CREATED", "created")], "no cases")


@case.command("export")
@click.argument("file", type=EXISTING_FILE)
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json",
              show_default=True, help="File format of each identifier.")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write [default: FILE's name without suffix, plus -export].")
def export_(file: Path, fmt: str, out_dir: Path | None) -> None:
    """Write every identifier of a case file readably (offline: no platform needed).

    One file per identifier, <name>.json or <name>.csv, plus manifest.json.
    """
    from modelport.case import CaseError, export  # pyarrow: loaded only when needed

    target = out_dir or file.with_name(f"{file.stem}-export")
    try:
        written = export(file, target, "csv" if fmt == "csv" else "json")
    except CaseError as exc:
        raise Failed(f"{file}: {exc.message} ({exc.code})") from None
    click.echo(str(target))
    note(f"{len(written)} files written")


@case.command("diff")
@click.argument("old", type=EXISTING_FILE)
@click.argument("new", type=EXISTING_FILE)
@click.option("--json", "as_json", is_flag=True,
              help="Print the JSON the portal's diff answers (GET /api/v1/cases/ID/diff/OTHER).")
def diff(old: Path, new: Path, as_json: bool) -> None:
    """What changed from case file OLD to NEW, two cases of one app (offline).

    Lists each identifier added, removed or changed, with the old and new value of every
    element that differs: the same comparison the portal's case diff makes.
    """
    from modelport.case import CaseError, diff_cases  # pyarrow: loaded only when needed

    a, b = _read(old), _read(new)
    try:
        found = diff_cases(a, b)
    except CaseError as exc:
        raise Failed(f"{exc.message} ({exc.code})") from None
    if as_json:
        emit_json(found.to_dict())
        return
    sets = {n for case in (a, b) for n in case.names if case.info(n).kind == "set"}
    for line in diff_lines(found, sets):
        click.echo(line)
    note(f"{found.app_name} {found.old_version} -> {found.new_version}: "
         f"{len(found.identifiers)} identifiers differ")


def _read(file: Path) -> Case:
    from modelport.case import CaseError, read_case

    try:
        return read_case(file)
    except CaseError as exc:
        raise Failed(f"{file}: {exc.message} ({exc.code})") from None


def diff_lines(found: CaseDiff, sets: set[str]) -> list[str]:
    """The diff as text: a line per identifier (``name: status``), then one indented line
    per element, ``element: old -> new`` (``-`` for no value; for the ``sets``, whether the
    element is ``in`` or ``out``)."""
    if not found.identifiers:
        return ["no differences"]
    lines = []
    for ident in found.identifiers:
        show = _membership if ident.name in sets else _value
        lines.append(f"{ident.name}: {ident.status.replace('_', ' ')}")
        lines += [f"  {_element(c.element)}{show(c.old)} -> {show(c.new)}"
                  for c in ident.changes]
    return lines


def _element(element: tuple[str, ...]) -> str:
    return f"{', '.join(element)}: " if element else ""


def _value(value: Any) -> str:
    return "-" if value is None else str(value)


def _membership(value: Any) -> str:
    return "in" if value else "out"

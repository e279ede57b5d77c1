"""The layout rules the code keeps (docs/architecture.md, "Where things live").

- The SDK (``modelport.agent``, ``modelport.appkit``, ``modelport.case``) ships to app authors and
  into runtime containers: it imports nothing of the platform (``common``, the services) nor of
  the tools (``modelport.cli``, ``modelport.client``, ``modelport.devstack``).
- The services never import each other; ``common`` imports no service and no tool.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("backend_svc", "portal_svc", "session_svc", "solve_svc")
SDK = ("modelport/agent", "modelport/appkit", "modelport/case")
TOOLS = ("modelport.cli", "modelport.client", "modelport.devstack")


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names; relative imports are inside the package)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def offences(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for name in imported(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


@pytest.mark.parametrize("folder", SDK)
def test_sdk_imports_nothing_of_the_platform_or_the_tools(folder: str) -> None:
    assert offences(folder, ("common", *SERVICES, *TOOLS)) == []


@pytest.mark.parametrize("service", SERVICES)
def test_services_do_not_import_each_other(service: str) -> None:
    others = tuple(s for s in SERVICES if s != service)
    assert offences(service, others) == []


def test_common_imports_no_service_and_no_tool() -> None:
    assert offences("common", (*SERVICES, *TOOLS)) == []


def test_the_rule_sees_an_offence(tmp_path: Path) -> None:
    """The check itself works: a file importing common is found."""
    (tmp_path / "m.py").write_text("import os\nfrom common.storage import S3Storage\n")
    assert imported(tmp_path / "m.py") == {"os", "common.storage"}

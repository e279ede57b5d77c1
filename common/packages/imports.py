"""Static checks of an app's Python source before it is packed.

Every ``.py`` file must compile. Starting at the entry module, every import the app would run
must resolve to the standard library, the app's own modules (the app directory is the import
root), or an allowed distribution such as ``modelport`` or ``numpy``. Imports guarded by
``try/except ImportError`` or ``if TYPE_CHECKING:`` are optional and not checked; imports made
at run time (``importlib``) cannot be seen.
"""

from __future__ import annotations

import ast
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from common.packages.errors import BadManifest, BadSource, UnresolvedImports

DEFAULT_ALLOWED_IMPORTS = frozenset({"modelport", "numpy", "highspy", "pandas"})
_OPTIONAL_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


@dataclass(frozen=True)
class ImportRef:
    """One import statement's target: ``module`` (absolute) and the ``names`` taken from it."""

    module: str
    names: tuple[str, ...]
    line: int
    problem: str = ""


class AppModules:
    """The importable modules of an app: dotted name -> relative path of its file."""

    def __init__(self, root: Path, files: Iterable[str]) -> None:
        self.root = root
        self.modules: dict[str, str] = {}
        self.packages: set[str] = set()
        for rel in files:
            self._add(rel)

    def _add(self, rel: str) -> None:
        parts = rel.removesuffix(".py").split("/")
        if not rel.endswith(".py") or not all(p.isidentifier() for p in parts):
            return
        if parts[-1] == "__init__":
            parts.pop()
        for i in range(1, len(parts)):
            self.packages.add(".".join(parts[:i]))
        if parts:
            self.modules[".".join(parts)] = rel

    def owns(self, name: str) -> bool:
        return name in self.modules or name in self.packages

    def is_package(self, name: str) -> bool:
        return name in self.packages or self.modules.get(name, "").endswith("__init__.py")

    def prefixes(self, name: str) -> Iterator[str]:
        """The app modules a statement ``import name`` runs (parents first)."""
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            if ".".join(parts[:i]) in self.modules:
                yield ".".join(parts[:i])


def parse_source(root: Path, rel: str) -> ast.Module:
    """Parse and compile one file; raises :class:`BadSource` with file:line:column."""
    source = (root / rel).read_bytes()
    try:
        tree = ast.parse(source, filename=rel)
        compile(tree, rel, "exec", dont_inherit=True)
    except SyntaxError as exc:
        where = f"{rel}:{exc.lineno or 0}:{exc.offset or 0}"
        raise BadSource(f"{where}: {exc.msg}") from None
    except ValueError as exc:  # e.g. null bytes
        raise BadSource(f"{rel}: {exc}") from None
    return tree


class _ImportCollector(ast.NodeVisitor):
    """Collects the imports a module needs, skipping optional (guarded) ones."""

    def __init__(self, package: str) -> None:
        self.package = package
        self.refs: list[ImportRef] = []
        self._optional = 0

    def visit_Import(self, node: ast.Import) -> None:
        if not self._optional:
            self.refs += [ImportRef(a.name, (), node.lineno) for a in node.names]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if not self._optional:
            names = tuple(a.name for a in node.names)
            self.refs.append(self._absolute(node, names))

    def _absolute(self, node: ast.ImportFrom, names: tuple[str, ...]) -> ImportRef:
        module = node.module or ""
        if not node.level:
            return ImportRef(module, names, node.lineno)
        text = "." * node.level + module
        base = self.package.split(".") if self.package else []
        if node.level - 1 >= len(base):
            return ImportRef(text, names, node.lineno, "relative import beyond the app's top level")
        base = base[: len(base) - (node.level - 1)]
        return ImportRef(".".join(base + ([module] if module else [])), names, node.lineno)

    def visit_Try(self, node: ast.Try) -> None:
        guarded = any(_catches_import_error(h) for h in node.handlers)
        self._optional += guarded
        for stmt in node.body:
            self.visit(stmt)
        self._optional -= guarded
        rest: list[ast.AST] = [*node.handlers, *node.orelse, *node.finalbody]
        for child in rest:
            self.visit(child)

    def visit_If(self, node: ast.If) -> None:
        checking = _is_type_checking(node.test)
        self._optional += checking
        for stmt in node.body:
            self.visit(stmt)
        self._optional -= checking
        for stmt in node.orelse:
            self.visit(stmt)


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(t, ast.Name) and t.id in _OPTIONAL_ERRORS for t in types)


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


class _TopLevelNames(ast.NodeVisitor):
    """Names a module binds at top level (not inside functions or classes)."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.star = False

    def visit_FunctionDef(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    ) -> None:
        self.names.add(node.name)  # the body binds names of its own scope

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        return None

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store):
            self.names.add(node.id)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            self.star = self.star or alias.name == "*"
            self.names.add(alias.asname or alias.name.split(".")[0])

    visit_ImportFrom = visit_Import


def _defines(tree: ast.Module, name: str) -> bool:
    """Whether the module binds ``name`` at top level (assumed so after a star import)."""
    visitor = _TopLevelNames()
    visitor.visit(tree)
    return visitor.star or name in visitor.names


class ImportChecker:
    """Walks the app's modules from its entry point and checks what they import."""

    def __init__(self, modules: AppModules, allowed: Iterable[str]) -> None:
        self.modules, self.allowed = modules, set(allowed) | set(sys.stdlib_module_names)
        self.unresolved: list[tuple[str, str]] = []

    def check(self, entry_point: str) -> None:
        """Raise :class:`BadManifest` (field ``entry``), :class:`BadSource` or
        :class:`UnresolvedImports`."""
        module, attribute = entry_point.split(":", 1)
        tree = self._entry_tree(module, attribute)
        seen, queue = {module}, deque([(module, tree)])
        while queue:
            name, tree = queue.popleft()
            for target in self._imports_of(name, tree):
                if target not in seen:
                    seen.add(target)
                    queue.append(
                        (target, parse_source(self.modules.root, self.modules.modules[target]))
                    )
        if self.unresolved:
            raise UnresolvedImports(self.unresolved)

    def _entry_tree(self, module: str, attribute: str) -> ast.Module:
        if module not in self.modules.modules:
            path = module.replace(".", "/")
            raise BadManifest(
                f"app.toml: field 'entry': no module {module!r} "
                f"(neither {path}.py nor {path}/__init__.py)",
                field="entry",
            )
        tree = parse_source(self.modules.root, self.modules.modules[module])
        if not _defines(tree, attribute.split(".")[0]):
            raise BadManifest(
                f"app.toml: field 'entry': {module!r} does not define {attribute!r}",
                field="entry",
            )
        return tree

    def _imports_of(self, name: str, tree: ast.Module) -> Iterator[str]:
        package = name if self.modules.is_package(name) else name.rpartition(".")[0]
        collector = _ImportCollector(package)
        collector.visit(tree)
        rel = self.modules.modules[name]
        for ref in collector.refs:
            yield from self._resolve(ref, rel)

    def _resolve(self, ref: ImportRef, rel: str) -> Iterator[str]:
        """Yield the app modules ``ref`` runs; record it if it resolves nowhere."""
        top = ref.module.split(".")[0]
        if ref.problem:
            self.unresolved.append((f"{rel}:{ref.line}", f"{ref.module} ({ref.problem})"))
        elif self.modules.owns(ref.module):
            yield from self.modules.prefixes(ref.module)
            for item in ref.names:
                if f"{ref.module}.{item}" in self.modules.modules:
                    yield f"{ref.module}.{item}"
        elif self.modules.owns(top) or top not in self.allowed:
            self.unresolved.append((f"{rel}:{ref.line}", ref.module))


def check_app_sources(
    root: Path, files: Iterable[str], entry_point: str, allowed: Iterable[str]
) -> None:
    """Compile every ``.py`` file of the app and check the imports reachable from the entry point.

    ``files`` are the app's relative POSIX paths. Raises :class:`BadSource`,
    :class:`BadManifest` (field ``entry``) or :class:`UnresolvedImports`.
    """
    files = list(files)
    for rel in files:
        if rel.endswith(".py"):
            parse_source(root, rel)
    ImportChecker(AppModules(root, files), allowed).check(entry_point)

"""The shape docs/architecture.md promises, checked on the code itself.

- no module in services/ over 500 lines, no function over 60;
- no import circle between files;
- arrows between folders go one way: the shared libraries (bus, files, risk) import no service, nothing
  imports the launcher (qf), and no two service folders import each other;
- no service imports another one's private modules or names.
Complexity (at most 15) is ruff's C90 rule in the lint run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ROOT / "services"
LIBRARIES = {"bus", "files", "risk"}
LAUNCHER = "qf"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in sorted(SERVICES.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(["quantumflux", *parts[1:]])] = path
    return out


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The module file an import of ``name`` lands in (the longest known prefix)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def _imports(module: str) -> list[tuple[str, str]]:
    """(target module, imported name or '') for every import of ``module``, lazy ones included."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, str]] = []
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            found += [(t, "") for a in node.names if (t := _resolve(a.name))]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                target = _resolve(f"{base}.{alias.name}") or _resolve(base)
                if target:
                    found.append((target, alias.name))
    return found


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:`` (annotations only, never run)."""
    out: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        out.append(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                todo.extend(child.orelse)
            else:
                todo.append(child)
    return out


GRAPH = {m: _imports(m) for m in MODULES}


def _folder(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_modules_are_short() -> None:
    long = {m: n for m, p in MODULES.items() if (n := p.read_text().count("\n")) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_functions_are_short() -> None:
    long = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{module}:{node.lineno} {node.name} ({length} lines)")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_no_import_circle_between_files() -> None:
    # A package's __init__ re-exporting its own modules is not a circle of design.
    edges = {
        m: {t for t, _ in imps if t != m and not (MODULES[t].name == "__init__.py" and m.startswith(t + "."))}
        for m, imps in GRAPH.items()
    }
    assert _cycles(edges) == []


def _folder_edges() -> dict[tuple[str, str], list[str]]:
    edges: dict[tuple[str, str], list[str]] = {}
    for module, imps in GRAPH.items():
        for target, _ in imps:
            a, b = _folder(module), _folder(target)
            if a and b and a != b:
                edges.setdefault((a, b), []).append(f"{module} -> {target}")
    return edges


def test_libraries_import_no_service() -> None:
    bad = [w for (a, b), why in _folder_edges().items() if a in LIBRARIES and b not in LIBRARIES for w in why]
    assert not bad, bad


def test_nothing_imports_the_launcher() -> None:
    bad = [w for (a, b), why in _folder_edges().items() if b == LAUNCHER for w in why]
    assert not bad, bad


def test_service_folders_import_one_way() -> None:
    edges = _folder_edges()
    both = sorted({tuple(sorted(p)) for p in edges if (p[1], p[0]) in edges})
    assert not both, {f"{a} <-> {b}": edges[(a, b)] + edges[(b, a)] for a, b in both}
    folder_graph: dict[str, set[str]] = {}
    for a, b in edges:
        folder_graph.setdefault(a, set()).add(b)
    assert _cycles(folder_graph) == []


def test_no_service_imports_anothers_private_parts() -> None:
    bad = []
    for module, imps in GRAPH.items():
        for target, name in imps:
            if _folder(module) == _folder(target):
                continue
            private_module = any(p.startswith("_") and p != "__init__" for p in target.split("."))
            if private_module or (name.startswith("_") and name != "*"):
                bad.append(f"{module} imports {target}{'.' + name if name else ''}")
    assert not bad, bad


@pytest.mark.parametrize("module", ["quantumflux.bus", "quantumflux.bus.records"])
def test_the_contract_is_importable_alone(module: str) -> None:
    # Outside tools import the contract; it must not drag a service in with it.
    assert all(_folder(t) in LIBRARIES for t, _ in GRAPH[module])


def test_the_package_is_imported_under_one_name() -> None:
    # The folder is services/, the package quantumflux: importing both names would load every
    # module twice, with two copies of their state.
    bad = []
    for folder in ("services", "tests", "bench", "scripts"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and not node.level:
                    names = [node.module or ""]
                bad += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] == "services"]
    assert not bad, bad

"""The layout is the architecture: pages draw through ui/, clap_core never meets Streamlit."""

import ast

import pytest

from conftest import ROOT


def imported_modules(path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("page", sorted((ROOT / "pages").glob("*.py")), ids=lambda p: p.name)
def test_pages_import_only_ui(page):
    assert imported_modules(page) <= {"ui", "streamlit", "pandas"}, page.name


@pytest.mark.parametrize("module", sorted((ROOT / "clap_core").glob("*.py")), ids=lambda p: p.name)
def test_clap_core_never_imports_streamlit(module):
    assert "streamlit" not in imported_modules(module)


PACKAGES = ("clap_core", "ui")  # the layers from the bottom: clap_core (UI-free), ui (Streamlit glue); pages on top


def _module_name(path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Every project module of PACKAGES → the project modules it imports, at module level or inside a function alike
    (``from . import x`` counts as an import of the submodule x where there is one)."""
    files = {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([node.module] if node.module else []))
                found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names)
        graph[name] = {m for m in found if m in files and m != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of the graph, or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return path[path.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        state[m] = 2
        path.pop()
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_the_import_graph_has_no_circle_and_no_import_upwards():
    graph = import_graph()
    assert len(graph) > 40 and any(m.startswith("clap_core.msclap.") for m in graph)
    assert _cycle(graph) is None, " → ".join(_cycle(graph))
    upward = [(m, n) for m, deps in graph.items() for n in deps if m.startswith("clap_core") and n.startswith("ui")]
    assert upward == []


def test_the_cycle_finder_finds_a_circle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("module", sorted(p for pkg in ("clap_core", "ui") for p in (ROOT / pkg).rglob("*.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_says_what_it_owns(module):
    doc = ast.get_docstring(ast.parse(module.read_text()))
    assert doc and len(doc) > 20, module


@pytest.mark.parametrize("module", sorted((ROOT / "clap_core").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_of_clap_core_at_any_depth_imports_streamlit(module):
    assert "streamlit" not in imported_modules(module) and "ui" not in imported_modules(module)

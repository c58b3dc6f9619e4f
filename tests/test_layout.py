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

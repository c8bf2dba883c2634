"""The packages depend one way (../shared/STYLE.md): qa is the library and imports none of the others; index,
web and eval are its clients, web and index do not import eval or each other, and eval imports no test code.
Checked on the source, statement by statement, so a lazy import inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from qa.settings import ROOT

BANNED = {"qa": {"index", "web", "eval", "tests"}, "index": {"web", "eval", "tests"},
          "web": {"eval", "index", "tests"}, "eval": {"tests", "web"}}  # fmt: skip


def imported_packages(path: Path) -> set[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {(node.lineno, alias.name.split(".")[0]) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add((node.lineno, node.module.split(".")[0]))
    return found


@pytest.mark.parametrize("package", sorted(BANNED))
def test_imports_run_one_way(package):
    wrong = [f"{path.relative_to(ROOT)}:{line} imports {name}"
             for path in sorted((ROOT / package).rglob("*.py"))
             for line, name in sorted(imported_packages(path)) if name in BANNED[package]]  # fmt: skip
    assert wrong == []


def test_no_source_file_reaches_test_code_by_path():
    """eval once started tests/load_server.py as a subprocess: a dependency on tests/ that no import shows."""
    for package in BANNED:
        for path in (ROOT / package).rglob("*.py"):
            assert '"tests"' not in path.read_text(encoding="utf-8"), path

"""The packages depend one way (../shared/STYLE.md): qa is the library and imports none of the others; index,
web and eval are its clients, web and index do not import eval or each other, and eval imports no test code.
Checked on the source, statement by statement, so a lazy import inside a function counts too."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from qa.settings import ROOT

BANNED = {
    "qa": {"index", "web", "eval", "tests"},
    "index": {"web", "eval", "tests"},
    "web": {"eval", "index", "tests"},
    "eval": {"tests", "web"},
}
# The load server serves the real web app (with stand-in models) for the load test: the one module of eval
# that imports web. It is named here so that no other module starts to.
ALLOWED = {"eval/bench/load_server.py": {"web"}}


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
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, name in sorted(imported_packages(path))
        if name in BANNED[package] - ALLOWED.get(str(path.relative_to(ROOT)), set())
    ]
    assert wrong == []


def test_the_allowed_exceptions_are_still_needed():
    """An exception that no longer matches an import is dropped, so that the list stays the exact one."""
    for name, packages in ALLOWED.items():
        assert packages <= {package for _, package in imported_packages(ROOT / name)}, name


def test_no_source_file_reaches_test_code_by_path():
    """eval once started tests/load_server.py as a subprocess: a dependency on tests/ that no import shows.
    A path to tests/ in code is a string that starts with it ("tests", 'tests/…'); prose may name the folder."""
    path_to_tests = re.compile(r"""["']tests(?:["'/])""")
    for package in BANNED:
        for path in (ROOT / package).rglob("*.py"):
            assert not path_to_tests.search(path.read_text(encoding="utf-8")), path


def test_the_bench_imports_without_tests_on_the_path():
    """pytest puts tests/ on sys.path; a fresh interpreter in the project root does not, as `qa bench` runs."""
    code = (
        "import pkgutil, sys, eval.bench\n"
        "for module in pkgutil.walk_packages(eval.bench.__path__, 'eval.bench.'): __import__(module.name)\n"
        "assert not [m for m in sys.modules if m == 'fakes' or m.startswith('tests')], sorted(sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr

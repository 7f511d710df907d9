"""The tree shows the architecture: the worker core imports none of the other packages."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "local", "sandbox", "samples", "scaffold")
MAY_IMPORT = {  # package -> the ml_service packages it may import besides itself
    "core": set(),
    "local": {"core", "samples"},
    "scaffold": set(),
}


def _imports(path: Path) -> set[str]:
    """The ml_service sub-packages (and top-level modules) a file imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else (
            [a.name for a in node.names] if isinstance(node, ast.Import) else [])
        for name in names:
            parts = name.split(".")
            if parts[0] == "ml_service" and len(parts) > 1:
                found.add(parts[1])
            elif parts[0] == "handlers":
                found.add("handlers")
    return found


def test_every_module_lives_in_a_package_but_the_entry_points():
    top = sorted(p.name for p in (REPO / "ml_service").glob("*.py"))
    assert top == ["__init__.py", "__main__.py", "cli.py", "handler_api.py"]
    assert all((REPO / "ml_service" / pkg / "__init__.py").read_text().startswith('"""') for pkg in PACKAGES)


def test_each_package_imports_only_what_its_docstring_allows():
    wrong = {}
    for pkg, allowed in MAY_IMPORT.items():
        for path in (REPO / "ml_service" / pkg).rglob("*.py"):
            extra = _imports(path) - allowed - {pkg}
            if extra:
                wrong[str(path.relative_to(REPO))] = sorted(extra)
    assert wrong == {}


def test_the_handler_api_is_built_from_the_core_only():
    assert _imports(REPO / "ml_service" / "handler_api.py") == {"core"}


def test_the_demo_media_makers_import_without_the_sandbox_server():
    """The compose demo's submitter runs in a worker image, which has no Flask (.ci/docker-smoke.sh)."""
    import subprocess
    import sys

    code = ("import sys; import ml_service.sandbox.demo_media; "
            "assert 'werkzeug' not in sys.modules and 'flask' not in sys.modules, sorted(sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr

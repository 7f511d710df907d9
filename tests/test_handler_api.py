"""Handlers reach ml_service only through ml_service.handler_api, and it exports what it says."""

from __future__ import annotations

import ast
from pathlib import Path

from ml_service import handler_api

REPO = Path(__file__).resolve().parents[1]


def _ml_service_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "ml_service":
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "ml_service"}
    return found


def test_handlers_import_only_the_handler_api():
    offenders = {str(p.relative_to(REPO)): sorted(m - {"ml_service.handler_api"})
                 for p in (REPO / "handlers").rglob("*.py") if (m := _ml_service_imports(p)) - {"ml_service.handler_api"}}
    assert offenders == {}


def test_the_api_exports_what_it_lists_and_is_versioned():
    assert handler_api.HANDLER_API_VERSION == "1"
    assert all(hasattr(handler_api, name) for name in handler_api.__all__)
    assert set(handler_api.HandlerInput.__annotations__) >= {
        "submission_id", "session_id", "modality", "options", "recordings", "reference_photo", "reference_voice", "work_dir"}

"""``python -m ml_service new-handler NAME``: a new analyser's files, ready to run and test.

It writes ``handlers/NAME/`` (``__init__.py``, ``NAME.py`` with ``process()``,
``requirements.txt``, an idempotent ``install.sh``, ``README.md``), a sample
generator ``ml_service/samples/NAME.py`` (found by ``bench/quality.py`` and ``python -m
ml_service.samples``) and ``tests/handlers/test_NAME.py``. As generated, the handler passes
``check-config`` and its own test; ``docs/writing-a-handler.md`` says what to change next.
"""

from __future__ import annotations

import argparse
import keyword
import re
import sys
from pathlib import Path

from ml_service.scaffold.files import FILES

__all__ = ["NAME_RE", "main", "write_handler"]

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
_TAKEN = {"truth", "handlers", "tests", "samples", "debug", "ml_service"}


def write_handler(name: str, root: Path) -> list[Path]:
    """Write the new handler's files under ``root`` (the repository); return them.

    Raises ValueError for a name that is not a lower-case Python identifier, or one whose
    handler folder, sample generator or test already exists (nothing is overwritten)."""
    root = Path(root)
    problem = _name_problem(name, root)
    if problem:
        raise ValueError(problem)
    written = []
    for relative, template, executable in FILES:
        path = root / relative.format(name=name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.replace("{{name}}", name), encoding="utf-8")
        if executable:
            path.chmod(0o755)
        written.append(path)
    return written


def _name_problem(name: str, root: Path) -> str | None:
    if not NAME_RE.match(name) or keyword.iskeyword(name) or name in _TAKEN:
        return (f"{name!r} cannot name a handler: use a lower-case Python identifier (letters, digits, _), "
                f"not a keyword or one of {sorted(_TAKEN)}")
    existing = [relative.format(name=name) for relative, _, _ in FILES if (root / relative.format(name=name)).exists()]
    if existing:
        return f"{name!r} exists already ({', '.join(existing[:3])}); nothing was written"
    if not (root / "handlers" / "__init__.py").exists():
        return f"{root} is not the repository's root (no handlers/__init__.py)"
    return None


def main(argv: list[str] | None = None) -> int:
    """``new-handler NAME [--root DIR]``: print what was written and the next steps."""
    parser = argparse.ArgumentParser(prog="python -m ml_service new-handler", description=__doc__.splitlines()[0])
    parser.add_argument("name", help="the handler's name, also its modality and queue (e.g. 'gaze')")
    parser.add_argument("--root", type=Path, default=Path("."), help="the repository's root (default: .)")
    args = parser.parse_args(argv)
    try:
        written = write_handler(args.name, args.root)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    n = args.name
    print(f"\nnext: python -m pytest tests/handlers/test_{n}.py\n"
          f"      cp debug.env {n}.env, set ML_XQUEUE_NAME={n} and ML_ANALYZER=handlers.{n}.{n}.process,\n"
          f"      python -m ml_service --env-file {n}.env check-config\n"
          f"      then put the checks in handlers/{n}/{n}.py (docs/writing-a-handler.md)")
    return 0

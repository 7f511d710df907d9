"""Handler loading and invocation.

``ML_ANALYZER`` names a function by dotted path (``handlers.debug.debug.process`` or
``handlers.debug.debug:process``). :func:`load_handler` imports it at start-up and tells
apart a missing module, a module that fails to import (e.g. a package it needs is not
installed), and a missing or non-callable attribute. :func:`run_handler` calls it and
checks the ``(result: dict, msg: str)`` contract and the result schema.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any, Callable

from ml_service.core.bounded import clamp
from ml_service.core.errors import HandlerError, HandlerLoadError, Retry
from ml_service.core.results import ErrorCode, validate_result

__all__ = ["Handler", "load_handler", "run_handler", "split_dotted"]

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Any]


def split_dotted(path: str) -> tuple[str, str]:
    """``a.b.c.func`` or ``a.b.c:func`` -> (``a.b.c``, ``func``)."""
    module, sep, attr = path.partition(":") if ":" in path else path.rpartition(".")
    if not module or not attr or (not sep):
        raise HandlerLoadError(f"ML_ANALYZER {path!r} is not a dotted path like handlers.debug.debug.process")
    return module, attr


def load_handler(path: str) -> Handler:
    """Import and return the handler function; raise :class:`HandlerLoadError` saying why not."""
    module_name, attr = split_dotted(path)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise HandlerLoadError(f"handler module {module_name!r} not found (ML_ANALYZER={path})") from exc
        raise HandlerLoadError(
            f"handler module {module_name!r} needs package {exc.name!r}, which is not installed: "
            f"install the handler's requirements.txt / install.sh"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - any import-time failure is a load error
        raise HandlerLoadError(
            f"handler module {module_name!r} failed to import: {type(exc).__name__}: {exc}"
        ) from exc
    func = getattr(module, attr, None)
    if func is None:
        raise HandlerLoadError(f"handler module {module_name!r} has no attribute {attr!r}")
    if not callable(func):
        raise HandlerLoadError(f"{path} is a {type(func).__name__}, not a function")
    return func


def run_handler(func: Handler, submission: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Call the handler and enforce the contract; raise :class:`HandlerError` otherwise."""
    try:
        returned = func(submission)
    except (Retry, HandlerError):
        raise
    except Exception as exc:  # noqa: BLE001 - a handler's failure must become an answer
        logger.exception("Handler raised on submission %s", submission.get("submission_id"))
        raise HandlerError(clamp(f"handler raised {type(exc).__name__}: {exc}"), ErrorCode.HANDLER_RAISED) from exc
    return check_returned(returned)


def check_returned(returned: Any) -> tuple[dict[str, Any], str]:
    """Validate the ``(result, msg)`` pair a handler returned."""
    if not (isinstance(returned, tuple) and len(returned) == 2):
        raise HandlerError(
            f"handler returned {type(returned).__name__}, expected a (result, msg) tuple",
            ErrorCode.INVALID_RESULT,
        )
    result, msg = returned
    if not isinstance(result, dict) or not isinstance(msg, str):
        raise HandlerError(
            f"handler returned ({type(result).__name__}, {type(msg).__name__}), expected (dict, str)",
            ErrorCode.INVALID_RESULT,
        )
    problems = validate_result(result)
    if problems:
        raise HandlerError("handler result breaks the schema: " + "; ".join(problems[:5]), ErrorCode.INVALID_RESULT)
    return result, msg

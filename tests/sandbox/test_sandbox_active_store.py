"""``SandboxState.submissions``: the one way to reach the store of the flavour the sandbox runs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.sandbox.conftest import XQueueClient

REPO = Path(__file__).resolve().parents[2]
STATE_PY = REPO / "ml_service" / "sandbox" / "state.py"


@pytest.mark.parametrize("flavour", ["xqueue", "edx-submissions"])
def test_unretired_is_counted_in_the_running_flavours_store(start_sandbox, flavour):
    sb = start_sandbox(flavour=flavour)
    for n in range(3):
        sb.submit_session("webcam", {"session_id": f"exam-{n}"}, {})
    active, other = (sb.state.edx, sb.state.queue) if flavour == "edx-submissions" else (sb.state.queue, None)
    assert sb.state.submissions is active
    assert sb.state.submissions.unretired() == 3
    assert other is None or other.unretired() == 0, "the other flavour's store never saw them"


def test_unretired_drops_when_a_submission_is_answered(sandbox, xq: XQueueClient, lms):
    sandbox.submit_session("webcam", {"session_id": "exam-1"}, {})
    xq.submit("webcam", callback=lms.url)
    pulled = xq.pull_decoded("webcam")
    assert sandbox.state.submissions.unretired() == 2
    assert xq.put_result(pulled["header_text"], '{"correct": true, "score": 1, "msg": "ok"}') == (0, "")
    assert sandbox.state.submissions.unretired() == 1


def _picks_a_store_by_hand(node: ast.AST) -> bool:
    """``x.edx or x.queue``, ``x.edx if ... else x.queue`` and the like."""
    if isinstance(node, ast.BoolOp):
        operands = node.values
    elif isinstance(node, ast.IfExp):
        operands = [node.body, node.orelse]
    else:
        return False
    return {"edx", "queue"} <= {n.attr for n in operands if isinstance(n, ast.Attribute)}


def test_nothing_but_the_state_picks_a_flavours_store_by_hand():
    found = []
    for folder in ("ml_service", "bench", "tests"):
        for path in (REPO / folder).rglob("*.py"):
            if path == STATE_PY:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            found += [f"{path.relative_to(REPO)}:{n.lineno}" for n in ast.walk(tree) if _picks_a_store_by_hand(n)]
    assert found == [], "use SandboxState.submissions"

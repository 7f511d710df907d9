"""The webcam handler in a live session: what one segment hands to the next.

Given ``submission["segment"]`` (``docs/contracts.md`` §5), the carry holds

* ``first_person``: the session's first person's face embedding (128 numbers), against
  which ``identity_change`` is judged, as one pass judges it against the recording's first face;
* ``usual``: the main person's usual pose, gaze, smile and mouth opening (the medians the
  checks measure against) and how many samples they rest on; each segment's own medians are
  blended in, weighted by samples, so one minute of looking down does not become "usual".
"""

from __future__ import annotations

from typing import Any

import numpy as np

from handlers.webcam.analyse import Observations
from handlers.webcam.checks import People, first_person
from handlers.webcam.options import Options

__all__ = ["carried", "carry_out"]


def carried(segment: dict[str, Any] | None) -> tuple[np.ndarray | None, dict[str, float] | None]:
    """The session's first person and usual pose from the carry (None where unknown)."""
    state = (segment or {}).get("carry") or {}
    first = state.get("first_person")
    vector = np.asarray(first, dtype=float) if isinstance(first, list) and len(first) == 128 else None
    usual = state.get("usual")
    return vector, usual if isinstance(usual, dict) else None


def carry_out(data: Observations, opts: Options, first: np.ndarray | None,
              usual: dict[str, float] | None) -> dict[str, Any]:
    """The carry after this segment."""
    first = first if first is not None else first_person(data, opts)
    people = People(data, opts, usual, first)
    out: dict[str, Any] = {}
    if first is not None:
        out["first_person"] = [round(float(x), 5) for x in first]
    main = people.main
    if main is not None:
        n = (usual or {}).get("samples", 0) + people.samples[main]
        out["usual"] = {**{k: round(v, 5) for k, v in people.base[main].items()}, "samples": int(n)}
    elif usual:
        out["usual"] = usual
    return out

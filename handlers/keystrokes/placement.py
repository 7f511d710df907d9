"""Where a change of typist that the sequential test found began.

The CUSUM (:mod:`handlers.keystrokes.change`) says *that* the typist changed once its evidence
passes the threshold. Its start is first moved back to where a CUSUM with a smaller allowance last
stood at 0 (a new typist's first timings carry little evidence); that sometimes goes too far, into
the candidate's own last minutes, when they held a little evidence by chance (a stumble, a slower
stretch). On the real development set 4 in 10 of the takeovers with key releases (villani) were
placed more than 30 s from the switch, half of them early.

So the start is then moved *forward* to where the stretch up to the change's end stands out most as
a whole: for every candidate start ``k`` (every :data:`~handlers.keystrokes.session_test.STEP_KEYS`
keystrokes from the lowest allowed one), per feature and per key pair (key) ``S`` = the sum of the
residuals of its ``m`` timings in ``[k, end]``, ``X = sum(S^2 / m - 1)`` and the significance
``X / sqrt(2 pairs)`` (flights and dwells together: the statistic of
:mod:`handlers.keystrokes.session_test`, over a stretch that ends at the change's end). The start
of largest significance among those with at least
:data:`~handlers.keystrokes.session_test.MIN_TIMINGS` timings wins. Never earlier than the first
placement: that would put more of the candidate's own typing in the report (on the tune half,
allowing 15-60 s earlier changed no figure; allowing any start, aalto lost 5 points and villani
gained 5, all sources 0.67 against 0.69). With it, the first step back can go further
(``change.LOCATE_DRIFT`` 0.5 instead of 0.7). Tune half, takeovers placed within 30 s of the
switch: aalto 0.82 -> 0.88, villani 0.67 -> 0.81 (handler README).
"""

from __future__ import annotations

import numpy as np

from handlers.keystrokes.session_test import MIN_TIMINGS, suffixes

__all__ = ["change_start"]

Part = tuple[np.ndarray, np.ndarray, np.ndarray]  # keystroke index, residual, pair (key) id


def change_start(parts: list[Part], lo: int, hi: int) -> int | None:
    """The keystroke in ``[lo, hi]`` from which the stretch to ``hi`` stands out most, or ``None``
    when no stretch has enough scored timings."""
    if hi < lo:
        return None
    stretches = []
    for index, r, ids in parts:
        inside = (index >= lo) & (index <= hi)
        stretches.append(suffixes(index[inside] - lo, r[inside], ids[inside], hi - lo + 1))
    x = sum(s.x for s in stretches)
    pairs = sum(s.pairs for s in stretches)
    timings = sum(s.timings for s in stretches)
    enough = timings >= MIN_TIMINGS
    if not np.any(enough):
        return None
    significance = np.where(enough, x / np.sqrt(2.0 * np.maximum(pairs, 1.0)), -np.inf)
    return lo + int(stretches[0].start[int(np.argmax(significance))])

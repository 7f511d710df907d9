"""Labelled sample recordings: generated media with known truth, per modality.

``truth.py`` holds the :class:`Sample` record and its truth file; each
``<modality>.py`` beside it (owned by that analyser's author) provides ``generate`` and
``make_long``. ``python -m ml_service.samples`` writes them (see ``__main__.py``).
"""

from __future__ import annotations

from ml_service.samples.truth import Sample, handler_input, read_truth, write_truth

__all__ = ["Sample", "handler_input", "read_truth", "write_truth"]

"""The keystroke-dynamics handler ("keyboard handwriting"): checks a session's key-event log.

Entry point: ``ML_ANALYZER=handlers.keystrokes.keystrokes.process``. Modules:
``events`` (the log format and its reader), ``options`` (per-exam options and defaults),
``rhythm`` (timing features, the typist profile, ``typist_change``), ``checks``
(``paste_burst``, ``automation``, ``idle``), ``intervals`` (window sums and runs).
"""

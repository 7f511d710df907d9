"""The worker daemon: everything ``python -m ml_service run`` needs, and nothing else.

The loop (:mod:`.worker`) pulls from XQueue (:mod:`.xqueue`, :mod:`.flavour`, :mod:`.submission`,
:mod:`.lms_body`), downloads the media (:mod:`.media`, :mod:`.media_url`, :mod:`.media_checks`,
:mod:`.media_probe`), runs the handler named by ``ML_ANALYZER`` (:mod:`.handlers`, :mod:`.job`,
:mod:`.isolation`), answers (:mod:`.results`, :mod:`.delivery`, :mod:`.journal`) and reports to
the platform (:mod:`.platform`, :mod:`.events`). A live session's segments (:mod:`.live`,
:mod:`.carry`, :mod:`.timeline`, :mod:`.alerts`) go through the same loop. :mod:`.config`, :mod:`.errors`, :mod:`.bounded`,
:mod:`.backoff`, :mod:`.logs` and :mod:`.metrics` serve them all.

May import: the standard library, its pinned packages, and ``ml_service.core`` itself. Never
the sandbox, the samples, local analysis or a handler (``tests/test_layout.py`` checks it):
handlers are loaded by their dotted path at run time.
"""

"""Local analysis: ``python -m ml_service analyze FILE...`` runs the handlers on files, without
any server, and writes ``result.json`` and the HTML report (:mod:`.report`); :mod:`.live_local`
plays a live session's segments through a handler the same way.

May import: ``ml_service.core`` (the results contract, handler loading and isolation) and
``ml_service.samples.truth`` (a set of recordings and the handler input built from it). Not the
sandbox.
"""

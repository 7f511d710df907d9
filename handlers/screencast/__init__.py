"""The screencast analyser: window switches, forbidden content, blank, frozen and resized screens.

Entry point: ``ML_ANALYZER=handlers.screencast.screencast.process``. Modules, in the order the
data flows: ``options`` (per-exam settings), ``frames`` (ffmpeg decoding at 2 fps), ``changes``
(blank / frozen / resolution signals), ``screen_text`` (what to OCR and when), ``ocr`` (batched
tesseract), ``timeline`` (text on screen over time), ``matching`` (deny/allow lists),
``findings`` (violations), ``analyse`` (one recording), ``screencast`` (``process``).
"""

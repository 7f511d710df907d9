"""The webcam analyser: presence, extra persons, identity, head pose and gaze, talking,
expression cues and a blocked or dark camera, on a webcam recording of an exam.

Entry point: ``ML_ANALYZER=handlers.webcam.webcam.process``. See README.md for the checks,
their options and what is not detected.
"""

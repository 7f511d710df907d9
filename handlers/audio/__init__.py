"""The audio handler: speech, speakers, voice identity, background noise, a dead microphone.

Entry point: ``ML_ANALYZER=handlers.audio.audio.process``. See ``README.md`` beside this file.
"""

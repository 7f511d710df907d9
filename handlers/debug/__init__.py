"""The debug handler: inspects the submitted media and reports what it is, never a violation.

Entry point: ``ML_ANALYZER=handlers.debug.debug.process``.
"""

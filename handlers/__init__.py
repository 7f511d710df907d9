"""Analysis handler packages: one folder per modality, loaded by dotted path.

``ML_ANALYZER=handlers.<name>.<module>.process`` names a function
``process(submission: dict) -> (result: dict, msg: str)`` (docs/contracts.md, section 2).
Each folder holds its Python modules, a ``requirements.txt`` (pip packages) and an
``install.sh`` (system packages); adding a modality means adding a folder here, and
nothing in ``ml_service/`` changes.
"""

"""A real edx-submissions XQueue server on loopback, for the interoperability tests.

Django + DRF + sqlite, with edx-submissions' own ``XQueueViewSet`` mounted at ``/xqueue/``
(as ``submissions/urls.py`` is meant to be mounted), its media in a local folder served at
``/media/``, and one worker user in the Django group ``xqueue``. Run it with
``python -m tests.interop.edx_server --dir DIR``: it binds an ephemeral port on 127.0.0.1,
migrates a fresh sqlite database in ``DIR``, then prints one JSON line with its URL.

``POST /lms/submit/`` plays the LMS: it creates a submission with
``submissions.api.create_external_grader_detail`` (the way Open edX's LMS does in process),
with the uploaded file parts as its files. It is part of this test server only.
"""

"""URLs: edx-submissions' XQueue API, its media, and the test LMS's submit view."""

from __future__ import annotations

from django.conf import settings
from django.urls import include, path, re_path
from django.views.static import serve

from tests.interop.edx_server.lms import submit

urlpatterns = [
    path("xqueue/", include("submissions.urls")),
    re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
    path("lms/submit/", submit),
]

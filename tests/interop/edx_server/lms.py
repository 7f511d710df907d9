"""The test LMS: creates submissions in process, as Open edX's LMS does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from submissions import api


@dataclass
class _Upload:
    """What ``create_external_grader_detail`` expects of a file: an object with ``.file``."""

    file: Any


@csrf_exempt
def submit(request: HttpRequest) -> JsonResponse:
    """POST student_id, item_id, queue_name, grader, answer, points_possible + file parts."""
    form = request.POST
    student_item = {"student_id": form["student_id"], "course_id": "course-v1:ml+proctoring+2026",
                    "item_id": form["item_id"], "item_type": "problem"}
    detail = api.create_external_grader_detail(
        student_item, form["answer"], queue_name=form["queue_name"], queue_key=form.get("queue_key", ""),
        grader_file_name=form.get("grader", ""), points_possible=int(form.get("points_possible", "1")),
        files={name: _Upload(upload) for name, upload in request.FILES.items()},
    )
    return JsonResponse({"submission_id": detail.submission.id, "uuid": str(detail.submission.uuid)})


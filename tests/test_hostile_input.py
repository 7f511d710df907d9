"""Hostile input against the whole pull loop (issue 24): the worker survives and answers.

Each test pulls something an attacker (or a broken server) could send through httpretty's
XQueue and platform, and checks that the worker keeps running, answers what can be answered
with its error code, and quotes no more of the input than a bounded excerpt.
"""

from __future__ import annotations

import json

import httpretty
import pytest

from tests.test_worker import BODY, answer, fakes, make_worker  # noqa: F401 - fakes is a fixture
from tests.xqueue_fake import MEDIA, envelope

FILES = {"cam.webm": f"{MEDIA}/rec1"}


def test_a_submission_id_over_63_bits_does_not_stop_the_worker(fakes, tmp_path):
    xq, _ = fakes
    xq.add(2**63, BODY, FILES)
    xq.add(31, BODY, FILES)
    worker, _ = make_worker(tmp_path)
    assert worker.run(max_jobs=1) == 1
    assert [json.loads(r["xqueue_header"])["submission_id"] for r in xq.results] == [31]
    assert answer(xq)["correct"] is True

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


def test_an_opaque_token_with_a_wordy_expires_in_does_not_stop_the_worker(fakes, tmp_path, caplog):
    xq, _ = fakes
    httpretty.reset()  # the platform now answers only this broken token reply
    xq.install()
    httpretty.register_uri(httpretty.GET, f"{MEDIA}/rec1", body=b"RIFF-fake-media-bytes")
    httpretty.register_uri(httpretty.POST, "http://platform.test/ml/auth/token",
                           body=json.dumps({"access_token": "opaque-9f2", "expires_in": "one hour"}))
    xq.add(32, BODY, FILES)
    worker, _ = make_worker(tmp_path)
    assert worker.run(max_jobs=1) == 1
    assert answer(xq)["correct"] is True
    assert worker.outbox.pending == 5  # kept for later
    assert "expires_in that is not a positive number" in caplog.text

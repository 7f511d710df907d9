"""Pull order, the lease, keys, concurrent pulls and the anti-DoS rule (XQUEUE.md §3-5)."""

from __future__ import annotations

import json
import threading


def _submit_named(xq, names, clock, queue="debug"):
    for name in names:
        xq.submit(queue, body=name, callback=f"http://127.0.0.1:9/{name}")
        clock.advance(1)


def test_oldest_arrival_first(xq, clock):
    _submit_named(xq, ["first", "second", "third"], clock)
    assert [xq.pull_decoded("debug")["body"] for _ in range(3)] == ["first", "second", "third"]
    assert xq.pull("debug") == (1, "Queue 'debug' is empty")


def test_same_arrival_time_pulls_in_submit_order(xq):
    for name in ("a", "b", "c"):  # the clock does not move
        xq.submit("debug", body=name, callback=f"http://127.0.0.1:9/{name}")
    assert [xq.pull_decoded("debug")["body"] for _ in range(3)] == ["a", "b", "c"]


def test_queues_are_separate(xq):
    xq.submit("webcam", body="w")
    assert xq.pull("debug") == (1, "Queue 'debug' is empty")
    assert xq.pull_decoded("webcam")["body"] == "w"


def test_lease_hides_then_reoffers_with_a_new_key(xq, clock):
    xq.submit("debug", body="job")
    first = xq.pull_decoded("debug")
    assert xq.queuelen("debug") == (0, 0)
    clock.advance(59.9)
    assert xq.pull("debug") == (1, "Queue 'debug' is empty")
    clock.advance(0.2)
    assert xq.queuelen("debug") == (0, 1)
    second = xq.pull_decoded("debug")
    assert second["header"]["submission_id"] == first["header"]["submission_id"]
    assert second["header"]["submission_key"] != first["header"]["submission_key"]
    assert xq.put_result(first["header_text"], "{}") == (1, "Incorrect key for submission")
    assert xq.put_result(second["header_text"], "{}") == (0, "")


def test_key_stays_valid_until_someone_pulls_again(xq, clock):
    """Like xqueue: an expired lease alone does not invalidate the key, a new pull does."""
    xq.submit("debug")
    first = xq.pull_decoded("debug")
    clock.advance(120)
    assert xq.put_result(first["header_text"], "{}") == (0, "")


def test_processing_delay_is_configurable(tmp_path, clock, start_sandbox, make_client):
    sb = start_sandbox(state_dir=tmp_path / "fast", processing_delay_s=5)
    xq = make_client(on=sb)
    xq.submit("debug")
    xq.pull_decoded("debug")
    clock.advance(4)
    assert xq.queuelen("debug") == (0, 0)
    clock.advance(1)
    assert xq.queuelen("debug") == (0, 1)


def test_every_pull_gets_a_fresh_key(tmp_path, start_sandbox, make_client):
    """Even with a frozen clock and no delay, a re-pull never repeats the previous key."""
    xq = make_client(on=start_sandbox(state_dir=tmp_path / "nodelay", processing_delay_s=0))
    xq.submit("debug")
    keys = [xq.pull_decoded("debug")["header"]["submission_key"] for _ in range(4)]
    assert all(a != b for a, b in zip(keys, keys[1:]))


def test_concurrent_pulls_never_share_a_submission(xq, make_client):
    total, workers = 40, 8
    for n in range(total):
        xq.submit("debug", body=str(n), callback=f"http://127.0.0.1:9/{n}")
    clients = [make_client() for _ in range(workers)]
    got: list[int] = []
    lock, barrier = threading.Lock(), threading.Barrier(workers)

    def drain(client):
        barrier.wait()
        while True:
            code, content = client.pull("debug")
            if code == 1:
                return
            with lock:
                got.append(json.loads(json.loads(content)["xqueue_header"])["submission_id"])

    threads = [threading.Thread(target=drain, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(got) == list(range(1, total + 1))  # each one exactly once


def test_resubmit_retires_earlier_submission_with_same_callback(xq, clock):
    xq.submit("debug", body="old", callback="http://127.0.0.1:9/learner-1")
    clock.advance(1)
    xq.submit("debug", body="other", callback="http://127.0.0.1:9/learner-2")
    clock.advance(1)
    assert xq.submit("debug", body="new", callback="http://127.0.0.1:9/learner-1") == (0, "2")
    assert [xq.pull_decoded("debug")["body"] for _ in range(2)] == ["other", "new"]
    assert xq.pull("debug") == (1, "Queue 'debug' is empty")


def test_resubmit_matches_callback_truncated_to_128_chars(xq):
    base = "http://127.0.0.1:9/" + "x" * 128
    xq.submit("debug", body="old", callback=base + "-a")
    xq.submit("debug", body="new", callback=base + "-b")
    assert xq.queuelen("debug") == (0, 1)
    assert xq.pull_decoded("debug")["body"] == "new"


def test_superseded_submission_held_by_a_grader_still_accepts_its_result(xq, lms):
    xq.submit("debug", body="old", callback=lms.url)
    held = xq.pull_decoded("debug")
    xq.submit("debug", body="new", callback=lms.url)
    assert xq.put_result(held["header_text"], "late") == (0, "")
    assert [post["xqueue_body"] for post in lms.posts] == ["late"]

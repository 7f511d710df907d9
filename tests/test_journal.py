"""The journal: decisions on pull, delivery bookkeeping, orphans, the outbox."""

from __future__ import annotations

import json
import sqlite3

import pytest

from ml_service.core.journal import Journal
from ml_service.core.submission import Pulled


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def pulled(sub_id: int = 1, key: str = "a" * 32, body: str = '{"session_id": "s"}') -> Pulled:
    header = json.dumps({"submission_id": sub_id, "submission_key": key})
    return Pulled(header=header, submission_id=sub_id, submission_key=key, body=body, files={"f": "http://x/f"})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def journal(tmp_path, clock) -> Journal:
    j = Journal(tmp_path / "j.sqlite3", clock=clock, owner="hostA:1:aaaa")
    yield j
    j.close()


RESULT = {"error_code": 0, "score": 1.0, "violations": [], "session_id": "s"}


def test_first_pull_is_analysed_and_recorded_running(journal):
    assert journal.begin("q", pulled(), live_after_s=30) == ("analyse", None)
    row = journal.get("q", 1)
    assert row.state == "running" and row.runs == 1 and row.owner == "hostA:1:aaaa"


def test_reoffer_with_a_kept_result_is_reused_with_the_new_header(journal):
    journal.begin("q", pulled(key="a" * 32), 30)
    journal.computed("q", 1, RESULT, "fine")
    journal.lease_lost("q", 1)
    decision, row = journal.begin("q", pulled(key="b" * 32), 30)
    assert decision == "reuse" and row.result == RESULT and row.msg == "fine"
    assert json.loads(row.header)["submission_key"] == "b" * 32
    assert json.loads(journal.get("q", 1).header)["submission_key"] == "b" * 32


def test_changed_content_under_the_same_id_is_analysed_afresh(journal):
    journal.begin("q", pulled(), 30)
    journal.computed("q", 1, RESULT, "fine")
    assert journal.begin("q", pulled(body='{"session_id": "other"}'), 30)[0] == "analyse"


def test_live_run_by_another_worker_means_wait_and_a_silent_one_means_analyse(tmp_path, journal, clock):
    other = Journal(tmp_path / "j.sqlite3", clock=clock, owner="hostB:2:bbbb")
    other.begin("q", pulled(), 30)
    assert journal.begin("q", pulled(key="c" * 32), live_after_s=30)[0] == "wait"
    clock.now += 31
    assert journal.begin("q", pulled(key="c" * 32), live_after_s=30)[0] == "analyse"
    assert journal.get("q", 1).runs == 2
    other.close()


def test_due_deliveries_are_claimed_once(tmp_path, journal, clock):
    journal.begin("q", pulled(), 30)
    journal.computed("q", 1, RESULT, "fine")
    assert journal.due_deliveries("q") == [], "a delivery under way is not due"
    journal.delivery_failed("q", 1, retry_in_s=5)
    clock.now += 6
    other = Journal(tmp_path / "j.sqlite3", clock=clock, owner="hostB:2:bbbb")
    assert [r.submission_id for r in journal.due_deliveries("q")] == [1]
    assert other.due_deliveries("q") == [], "claimed by the first journal"
    assert journal.get("q", 1).deliver_attempts == 1
    journal.delivered("q", 1)
    clock.now += 1000
    assert journal.due_deliveries("q") == []
    other.close()


def test_orphans_are_running_jobs_of_dead_or_silent_owners(tmp_path, journal, clock):
    import socket
    dead = Journal(tmp_path / "j.sqlite3", clock=clock, owner=f"{socket.gethostname()}:999999999:dead")
    dead.begin("q", pulled(1), 30)
    dead.close()  # its process is gone: pid 999999999 does not exist
    far = Journal(tmp_path / "j.sqlite3", clock=clock, owner="otherhost:5:far")
    far.begin("q", pulled(2), 30)
    assert [r.submission_id for r in journal.orphans("q", stale_after_s=100)] == [1]
    clock.now += 101
    assert sorted(r.submission_id for r in journal.orphans("q", stale_after_s=100)) == [1, 2]
    far.close()


def test_outbox_keeps_order_counts_attempts_and_adopts_dead_owners(tmp_path, journal, clock):
    import socket
    dead = Journal(tmp_path / "j.sqlite3", clock=clock, owner=f"{socket.gethostname()}:999999999:dead")
    dead.outbox_add("heartbeat", {"n": 1}, 1.0)
    dead.close()
    journal.outbox_add("service_started", {"n": 2}, 2.0)
    items = journal.outbox_items()
    assert [(i[1], i[2]) for i in items] == [("heartbeat", {"n": 1}), ("service_started", {"n": 2})]
    journal.outbox_retry(items[0][0])
    journal.outbox_done(items[1][0])
    assert [(i[1], i[4]) for i in journal.outbox_items()] == [("heartbeat", 2)]


def test_outbox_of_a_live_worker_is_not_taken(tmp_path, journal, clock):
    live = Journal(tmp_path / "j.sqlite3", clock=clock, owner="otherhost:7:live")
    live.outbox_add("heartbeat", {}, 1.0)
    assert journal.outbox_items() == []
    assert len(live.outbox_items()) == 1
    live.close()


def test_prune_forgets_only_old_delivered_jobs(journal, clock):
    for sid in (1, 2):
        journal.begin("q", pulled(sid), 30)
        journal.computed("q", sid, RESULT, "ok")
    journal.delivered("q", 1)
    clock.now += 100
    assert journal.prune(older_than_s=50) == 1
    assert journal.get("q", 1) is None and journal.get("q", 2).state == "computed"


def test_a_schema_0_file_is_migrated(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, event_type TEXT NOT NULL,"
                   " data TEXT NOT NULL, timestamp REAL NOT NULL, attempt INTEGER NOT NULL DEFAULT 1)")
    journal = Journal(path)
    journal.outbox_add("heartbeat", {}, 1.0)
    assert len(journal.outbox_items()) == 1
    journal.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1


def test_a_delivery_in_flight_at_a_crash_is_never_resent_blindly_but_reused_on_reoffer(journal, clock):
    journal.begin("q", pulled(key="a" * 32), 30)
    journal.computed("q", 1, RESULT, "fine")
    journal.delivering("q", 1)  # the worker dies here: did put_result land?
    clock.now += 10**6
    assert journal.due_deliveries("q") == []
    decision, row = journal.begin("q", pulled(key="b" * 32), 30)  # XQueue re-offered: it did not
    assert decision == "reuse" and row.result == RESULT


def test_outbox_is_bounded_and_drops_heartbeats_first(journal, monkeypatch):
    import ml_service.core.journal as journal_module
    monkeypatch.setattr(journal_module, "OUTBOX_MAX", 4)
    journal.outbox_add("service_started", {}, 1.0)
    for n in range(3):
        journal.outbox_add("heartbeat", {"n": n}, 2.0 + n)
    journal.outbox_add("session_processing_start", {}, 6.0)
    journal.outbox_add("session_processing_end", {}, 7.0)
    assert [(i[1], i[2].get("n")) for i in journal.outbox_items()] == [
        ("service_started", None), ("heartbeat", 2), ("session_processing_start", None),
        ("session_processing_end", None)]
    for _ in range(3):
        journal.outbox_add("session_processing_failed", {}, 8.0)
    assert [i[1] for i in journal.outbox_items()] == ["session_processing_end"] + ["session_processing_failed"] * 3

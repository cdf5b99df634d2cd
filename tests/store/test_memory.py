"""The store alone: generations, compare-and-set claims, and a many-thread hammer."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import pytest
from pydicom.dataset import Dataset

from dcmnode.store import Instance, MemoryStore, Sender

SENDER = Sender("SCANNER", "127.0.0.1")
ROUTE = [("ct", False)]


def instance(uid: str, series: str = "1.2.3") -> Instance:
    ds = Dataset()
    ds.SOPInstanceUID = uid
    return Instance(uid, "1.2.840.10008.5.1.4.1.1.2", series, ds)


def test_patient_is_checked_only_when_nobody_delivers():
    store = MemoryStore()
    store.open_association(1)
    store.open_association(2)
    store.add(1, "P", ROUTE, instance("1.1"), SENDER)
    store.add(2, "P", ROUTE, instance("1.2"), SENDER)
    assert store.snapshot("P") is None
    assert store.close_association(1) == []
    assert store.snapshot("P") is None
    assert store.close_association(2) == ["P"]
    assert store.close_association(2) == []  # idempotent
    snap = store.snapshot("P")
    assert snap is not None and snap.instance_count == 2


def test_claim_fails_when_data_arrived_after_the_snapshot():
    store = MemoryStore()
    store.add(0, "P", ROUTE, instance("1.1"), SENDER)
    snap = store.snapshot("P")
    assert snap is not None
    store.add(0, "P", ROUTE, instance("1.2"), SENDER)
    assert not store.claim(snap, "job-a")
    fresh = store.snapshot("P")
    assert fresh is not None and store.claim(fresh, "job-b")
    assert not store.claim(fresh, "job-c")  # never twice


def test_new_generation_survives_the_old_jobs_cleanup():
    store = MemoryStore()
    store.add(0, "P", ROUTE, instance("1.1"), SENDER)
    snap = store.snapshot("P")
    assert snap is not None and store.claim(snap, "job-1")
    store.add(0, "P", ROUTE, instance("1.1"), SENDER)  # re-sent while job-1 runs
    store.add(0, "P", ROUTE, instance("1.2"), SENDER)
    assert store.snapshot("P") is None  # one job per patient at a time
    assert store.finish("P", "job-1") is True  # newer data is due
    snap2 = store.snapshot("P")
    assert snap2 is not None and snap2.generation == 2 and snap2.instance_count == 2


def test_failed_generation_is_kept_with_reason():
    store = MemoryStore()
    store.add(0, "P", ROUTE, instance("1.1"), SENDER)
    snap = store.snapshot("P")
    assert snap is not None and store.claim(snap, "job-1")
    assert store.finish("P", "job-1", "ValueError: boom") is False
    [failed] = store.failed()
    assert failed.reason == "ValueError: boom" and len(failed.inputs["ct"]) == 1
    with pytest.raises(KeyError):
        store.finish("P", "job-1")


def test_duplicate_sop_instance_counts_once_and_single_series_refuses_another():
    store = MemoryStore()
    route = [("ct", True)]
    assert store.add(0, "P", route, instance("1.1", "S1"), SENDER).inputs == ("ct",)
    again = store.add(0, "P", route, instance("1.1", "S1"), SENDER)
    assert again.replaced
    assert store.add(0, "P", route, instance("1.2", "S2"), SENDER).inputs == ()
    snap = store.snapshot("P")
    assert snap is not None and snap.instance_count == 1


@pytest.mark.parametrize("seed", range(5))
def test_hammer_every_instance_in_exactly_one_claim(seed):
    """8 delivering threads and 4 checking threads on one patient, repeatedly.

    Whatever the interleaving: no instance is claimed twice, none is lost, and
    no two jobs of the patient run at once.
    """
    rng = random.Random(seed)
    store = MemoryStore()
    senders, per_sender, checkers = 8, 60, 4
    claimed: list[set[str]] = []
    claimed_lock = threading.Lock()
    running = threading.Semaphore(1)
    overlap = []
    done_sending = threading.Event()
    start = threading.Barrier(senders + checkers)
    errors: list[BaseException] = []

    def deliver(index: int) -> None:
        local = random.Random(rng.random())
        start.wait(60)
        association = 100 + index
        store.open_association(association)
        for n in range(per_sender):
            store.add(association, "P", ROUTE, instance(f"{index}.{n}"), SENDER)
            if local.random() < 0.1:  # reconnect now and then
                store.close_association(association)
                association += 1000
                store.open_association(association)
        store.close_association(association)

    def check() -> None:
        start.wait(60)
        while True:
            finished_before = done_sending.is_set()
            snap = store.snapshot("P")
            if snap is not None and store.claim(
                snap, f"job-{threading.get_ident()}-{snap.version}"
            ):
                if not running.acquire(blocking=False):
                    overlap.append(snap)
                uids = {i.sop_instance_uid for i in snap.inputs["ct"]}
                with claimed_lock:
                    claimed.append(uids)
                running.release()
                store.finish("P", f"job-{threading.get_ident()}-{snap.version}")
            elif finished_before and snap is None:
                return

    def guarded(work: Callable[..., None]) -> Callable[..., None]:
        """*work*, with its failure kept for the test's thread (not lost as a warning)."""

        def run(*args: object) -> None:
            try:
                work(*args)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
                start.abort()
                done_sending.set()

        return run

    threads = [threading.Thread(target=guarded(deliver), args=(i,)) for i in range(senders)]
    threads += [threading.Thread(target=guarded(check)) for _ in range(checkers)]
    for t in threads:
        t.start()
    for t in threads[:senders]:
        t.join(60)
    done_sending.set()
    for t in threads[senders:]:
        t.join(60)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
    assert not overlap
    everything = {f"{i}.{n}" for i in range(senders) for n in range(per_sender)}
    seen: set[str] = set()
    for uids in claimed:
        assert not (uids & seen), "an instance was claimed twice"
        seen |= uids
    assert seen == everything
    assert store.patients() == []


def test_quiet_reports_first_and_last_arrival_of_the_generation():
    """Quiet periods, deadlines and expiry all measure from these two times."""
    store = MemoryStore()
    store.add(0, "P", ROUTE, instance("1.1"), SENDER)
    [(_, version1, changed1, started1)] = store.quiet()
    assert 0 < started1 == changed1
    store.add(0, "P", ROUTE, instance("1.2"), SENDER)
    [(_, version2, changed2, started2)] = store.quiet()
    assert version2 != version1
    assert started2 == started1  # the first arrival stays
    assert changed2 >= changed1 and changed2 != 0

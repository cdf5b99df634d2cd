"""Many associations, one patient: exactly one job, with every instance."""

from __future__ import annotations

import random
import threading

from dcmnode.testing import JobRecorder, running, series
from pipelines import Recording, TwoInputs
from sending import associate
from support import run_threads

REPETITIONS = 20
ASSOCIATIONS = 8
SLICES = 40


def _deliver_split(node, datasets, senders, rng):
    """Open *senders* associations at once, interleave the instances, release in random order."""
    assocs = [associate(node, f"SCANNER{i}") for i in range(senders)]
    assert all(a.is_established for a in assocs)
    shares = [datasets[i::senders] for i in range(senders)]
    statuses: list[list[int]] = [[] for _ in range(senders)]
    start = threading.Barrier(senders)
    sent = threading.Barrier(senders + 1)
    release_order = list(range(senders))
    rng.shuffle(release_order)
    may_release = [threading.Event() for _ in range(senders)]

    errors: list[BaseException] = []

    def sender(index: int) -> None:
        try:
            start.wait(60)
            for ds in shares[index]:
                statuses[index].append(int(assocs[index].send_c_store(ds).Status))
            sent.wait(60)
            may_release[index].wait(60)
            assocs[index].release()
        except BaseException as exc:  # noqa: BLE001 - raised by the main thread
            errors.append(exc)
            start.abort()
            sent.abort()

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(senders)]
    for t in threads:
        t.start()
    try:
        sent.wait(60)  # every instance acknowledged before any release
    except threading.BrokenBarrierError:
        raise AssertionError(f"a sender failed: {errors!r}") from (errors[0] if errors else None)
    # Release in random order; neighbours in the order race each other.
    for index in release_order:
        may_release[index].set()
    for t in threads:
        t.join(60)
        assert not t.is_alive()
    if errors:
        raise errors[0]
    return [s for group in statuses for s in group]


def test_split_series_gives_exactly_one_job_each_time():
    rng = random.Random(20261125)
    with running(Recording, workers=4) as node:
        jobs = JobRecorder(node)
        for repetition in range(REPETITIONS):
            datasets = series(f"PAT{repetition:03d}", count=SLICES)
            rng.shuffle(datasets)
            statuses = _deliver_split(node, datasets, ASSOCIATIONS, rng)
            assert statuses == [0] * SLICES
            assert node.wait_idle(60)
        assert not jobs.failed
        assert len(jobs.finished) == REPETITIONS
        by_patient = {}
        for job in jobs.finished:
            assert job.patient_id not in by_patient, f"{job.patient_id} processed twice"
            by_patient[job.patient_id] = job
        for repetition in range(REPETITIONS):
            job = by_patient[f"PAT{repetition:03d}"]
            numbers = [int(ds.InstanceNumber) for ds in job.datasets["ct"]]
            assert numbers == list(range(1, SLICES + 1))
        assert node.store.patients() == []  # cleaned up, nothing left behind


def test_ct_and_pt_from_different_senders_make_one_job():
    rng = random.Random(7)
    with running(TwoInputs) as node:
        jobs = JobRecorder(node)
        for repetition in range(10):
            patient = f"BOTH{repetition}"
            ct = series(patient, count=12, modality="CT")
            pt = series(patient, count=9, modality="PT", study_uid=ct[0].StudyInstanceUID)
            ct_assoc = associate(node, "CT_SCANNER")
            pt_assoc = associate(node, "PET_SCANNER")
            barrier = threading.Barrier(2)

            def send(assoc, datasets, barrier=barrier):
                barrier.wait(60)
                for ds in datasets:
                    assert assoc.send_c_store(ds).Status == 0

            run_threads(send, [(ct_assoc, ct), (pt_assoc, pt)], barriers=[barrier])
            pair = [ct_assoc, pt_assoc]
            rng.shuffle(pair)
            for assoc in pair:
                assoc.release()
            assert node.wait_idle(60)
        assert len(jobs.finished) == 10 and not jobs.failed
        for job in jobs.finished:
            assert len(job.datasets["ct"]) == 12
            assert len(job.datasets["pt"]) == 9

"""Re-sent instances (same SOP Instance UID) that change which inputs take them.

A file is removed only when no input of any generation refers to it any
more, and the index says the same after a restart.
"""

from __future__ import annotations

from pathlib import Path

from pydicom.dataset import Dataset

from dcmnode import Input, Node, Pipeline
from dcmnode.store import DiskStore, Instance, Sender
from dcmnode.testing import JobRecorder, running, series
from sending import store_all

SENDER = Sender("SCANNER", "127.0.0.1")


def _comment_in(*allowed: str):  # type: ignore[no-untyped-def]
    return lambda value: value in allowed


class A(Input):
    # ImageComments "ab" matches both inputs, "a" only this one, "b" only the other.
    required_values = {"Modality": "CT", "ImageComments": _comment_in("a", "ab")}

    def is_complete(self, datasets) -> bool:  # type: ignore[no-untyped-def]
        return False


class B(A):
    required_values = {"Modality": "CT", "ImageComments": _comment_in("b", "ab")}


class Waiting(Pipeline):
    ae_title = "NODE"
    quiet_period = 0.0  # checked as soon as the sender is done
    inputs = {"a": A, "b": B}

    def process(self, job):  # type: ignore[no-untyped-def]
        return None


class ReadyA(A):
    def is_complete(self, datasets) -> bool:  # type: ignore[no-untyped-def]
        return len(datasets) == 2


class ReadyB(B):
    def is_complete(self, datasets) -> bool:  # type: ignore[no-untyped-def]
        return len(datasets) == 2


class Processing(Waiting):
    inputs = {"a": ReadyA, "b": ReadyB}


def _files(data: Path) -> list[Path]:
    return sorted((data / "instances").rglob("*.dcm"))


def _commented(datasets: list[Dataset], comment: str) -> list[Dataset]:
    for ds in datasets:
        ds.ImageComments = comment
    return datasets


def test_resend_that_matches_fewer_inputs_keeps_the_file_the_other_input_uses(tmp_path):
    data = tmp_path / "data"
    sent = _commented(series("SHARED", count=2), "ab")
    with running(Waiting, data_directory=str(data)) as node:
        assert store_all(node, sent) == [0, 0]
        changed = _commented([sent[0].copy()], "a")  # same SOP Instance UID, now only "a"
        changed[0].file_meta = sent[0].file_meta
        assert store_all(node, changed) == [0]
        assert node.wait_idle(30)
        assert node.store.journal.flush()
        # "b" still holds the first copy: its file must still be there.
        snapshot = node.store.snapshot("SHARED")
        assert snapshot is not None
        for instance in snapshot.inputs["b"]:
            assert instance.path is not None and Path(instance.path).is_file(), instance
        assert len(_files(data)) == 3
    node = Node(Processing(port=0, data_directory=str(data)))
    jobs = JobRecorder(node)
    with node:
        assert node.wait_idle(30)
    assert jobs.failed == []
    [job] = jobs.finished
    assert sorted(ds.ImageComments for ds in job.datasets["a"]) == ["a", "ab"]
    assert [ds.ImageComments for ds in job.datasets["b"]] == ["ab", "ab"]
    assert all("PixelData" in ds for name in "ab" for ds in job.datasets[name])
    assert _files(data) == []  # every file of the job, shared or not, cleaned up once


def _add(store: DiskStore, ds: Dataset, routes: list[str]) -> Instance:
    path, receipt = store.write("P", _encoded(ds))
    instance = Instance(ds.SOPInstanceUID, ds.SOPClassUID, ds.SeriesInstanceUID, ds, path, receipt)
    result = store.add(0, "P", [(name, False) for name in routes], instance, SENDER)
    assert result.inputs == tuple(routes)
    return instance


def _encoded(ds: Dataset) -> bytes:
    from io import BytesIO

    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _held(store: DiskStore) -> dict[str, list[str]]:
    snapshot = store.snapshot("P")
    assert snapshot is not None
    return {name: sorted(i.receipt for i in group) for name, group in snapshot.inputs.items()}


def test_a_file_goes_only_when_no_input_refers_to_it_across_restarts(tmp_path):
    data = tmp_path / "data"
    [ds] = series("P", count=1)
    store = DiskStore(data, fsync=False)
    first = _add(store, ds, ["a", "b"])
    second = _add(store, ds, ["a"])  # "b" keeps the first copy
    assert _held(store) == {"a": [second.receipt], "b": [first.receipt]}
    assert store.journal.flush()
    assert Path(str(first.path)).is_file() and Path(str(second.path)).is_file()
    store.close()

    store = DiskStore(data, fsync=False)  # restart: the index says the same
    assert _held(store) == {"a": [second.receipt], "b": [first.receipt]}
    third = _add(store, ds, ["b"])  # now nothing refers to the first copy
    assert _held(store) == {"a": [second.receipt], "b": [third.receipt]}
    assert store.journal.flush()
    assert not Path(str(first.path)).exists()
    assert sorted(_files(data)) == sorted(Path(str(i.path)) for i in (second, third))
    store.close()

    store = DiskStore(data, fsync=False)
    assert _held(store) == {"a": [second.receipt], "b": [third.receipt]}
    assert store.take_orphans() == []
    store.close()


def test_many_threads_resending_with_changing_inputs_leave_exactly_the_files_in_use(tmp_path):
    """Files on disk == copies some input holds, in memory and after a restart."""
    import random
    import threading

    data = tmp_path / "data"
    store = DiskStore(data, fsync=False)
    originals = series("P", count=4)
    names = ["a", "b", "c"]
    start = threading.Barrier(8)

    def resend(seed: int) -> None:
        chance = random.Random(seed)
        start.wait()
        for _ in range(40):
            ds = chance.choice(originals)
            routes = chance.sample(names, chance.randint(1, 3))
            _add(store, ds, routes)

    threads = [threading.Thread(target=resend, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    held = _held(store)
    assert store.journal.flush()
    in_use = {receipt for receipts in held.values() for receipt in receipts}
    assert {path.stem for path in _files(data)} == in_use
    store.close()
    store = DiskStore(data, fsync=False)
    assert _held(store) == held and store.take_orphans() == []
    store.close()

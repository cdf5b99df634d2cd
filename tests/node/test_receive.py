"""What a sender is told for data the node cannot or will not take."""

from __future__ import annotations

from pynetdicom import AE
from pynetdicom.sop_class import CTImageStorage  # type: ignore[attr-defined]

from dcmnode.network.status import Status
from dcmnode.testing import JobRecorder, running, series
from pipelines import Filtered, Recording
from sending import associate, send_raw, store_all


def test_dataset_no_input_accepts_is_refused_when_asked():
    with running(Recording, unrouted="reject") as node:
        mr = series("P1", count=2, modality="MR")
        assert store_all(node, mr) == [Status.NOT_ROUTED] * 2
        assert node.wait_idle(30)
        assert node.store.patients() == []


def test_unrouted_discard_answers_success_and_keeps_nothing():
    with running(Recording, unrouted="discard") as node:
        jobs = JobRecorder(node)
        assert store_all(node, series("P1", count=2, modality="MR")) == [0, 0]
        assert node.wait_idle(30)
        assert node.store.patients() == [] and jobs.started == []


def test_filter_rejection():
    with running(Filtered, unrouted="reject") as node:
        rejected = series("P1", count=2, series_description="reject me")
        assert store_all(node, rejected) == [Status.FILTERED] * 2
        assert store_all(node, series("P2", count=2)) == [0, 0]


def test_missing_grouping_attribute():
    with running(Recording) as node:
        datasets = series("P1", count=2)
        del datasets[0].PatientID
        datasets[1].PatientID = ""
        assert store_all(node, datasets) == [Status.MISSING_GROUPING] * 2
        # The association went on: the next instance on a new one is fine.
        assert store_all(node, series("P2", count=1)) == [0]


def test_unparseable_dataset():
    """Bytes that are no data set: failure status, and the association goes on."""
    good = series("P1", count=1)[0]
    garbage = [
        b"\x08\x00\x18\x00UI\x40\x00" + b"1.2.3",  # element longer than the data
        b"\xff" * 64,
    ]
    with running(Recording) as node:
        assoc = associate(node)
        try:
            for body in garbage:
                status = send_raw(assoc, CTImageStorage, "1.2.3.4", body)
                assert status == Status.CANNOT_PARSE
            assert int(assoc.send_c_store(good).Status) == 0
        finally:
            assoc.release()
        assert node.wait_idle(30)


def test_wrong_called_ae_and_unknown_calling_ae_are_rejected():
    with running(Recording, allowed_calling_aes=["SCANNER"]) as node:
        ae = AE(ae_title="SCANNER")
        ae.add_requested_context(CTImageStorage)
        assoc = ae.associate("127.0.0.1", node.port, ae_title="SOMEONE")
        assert assoc.is_rejected
        stranger = AE(ae_title="STRANGER")
        stranger.add_requested_context(CTImageStorage)
        assoc = stranger.associate("127.0.0.1", node.port, ae_title="NODE")
        assert assoc.is_rejected
        assoc = ae.associate("127.0.0.1", node.port, ae_title="NODE")
        assert assoc.is_established
        assoc.release()
        assert node.wait_idle(30)


def test_associations_beyond_the_maximum_are_rejected_then_accepted_again():
    with running(Recording, max_associations=2) as node:
        acceptors = lambda: [a for a in node._scp._ae.active_associations if a.is_acceptor]  # noqa: E731
        first = associate(node)
        [first_side] = acceptors()  # the node's thread for it, started before it accepted
        second = associate(node)
        assert first.is_established and second.is_established
        [second_side] = [a for a in acceptors() if a is not first_side]
        ae = AE(ae_title="SCANNER")
        ae.add_requested_context(CTImageStorage)
        third = ae.associate("127.0.0.1", node.port, ae_title="NODE")
        assert third.is_rejected
        first.release()
        # pynetdicom counts an association until its thread has ended, a
        # moment after the release (or rejection): join those threads.
        for thread in acceptors():
            if thread is not second_side:
                thread.join(30)
        fourth = ae.associate("127.0.0.1", node.port, ae_title="NODE")
        assert fourth.is_established
        fourth.release()
        second.release()
        assert node.wait_idle(30)

"""Memory-only mode: failed jobs' pixel data is bounded; the failures stay listed."""

from __future__ import annotations

from typing import Any

from dcmnode import Input, Job, Node, Pipeline
from dcmnode.store import MemoryStore
from dcmnode.testing import series
from sending import store_all

SLICE = 32 * 32 * 2  # bytes of pixel data in one slice of testing.series()


class AnyCT(Input):
    required_values = {"Modality": "CT"}


class AlwaysFailing(Pipeline):
    ae_title = "NODE"
    quiet_period = 0.0  # checked as soon as the sender is done
    inputs = {"ct": AnyCT}
    pixels: Any = None  # list: did each process() call get every slice's pixels?

    def process(self, job: Job) -> None:
        self.pixels.append(all("PixelData" in ds for ds in job.datasets["ct"]))
        raise RuntimeError("always fails")


def _has_pixels(failed) -> bool:  # type: ignore[no-untyped-def]
    return all("PixelData" in i.dataset for group in failed.inputs.values() for i in group)


def test_failed_generations_keep_pixel_data_only_up_to_the_bound():
    store = MemoryStore(keep_failed_bytes=5 * SLICE)  # room for two failed pairs
    pixels: list[bool] = []
    pipeline = AlwaysFailing(port=0, data_directory=None, process_retries=1, pixels=pixels)
    with Node(pipeline, store=store) as node:
        for i in range(4):
            assert store_all(node, series(f"P{i}", count=2)) == [0, 0]
            assert node.wait_idle(30)
        failed = {f.patient: f for f in store.failed()}
        # Every failure stays listed with its reason, oldest released first.
        assert sorted(failed) == ["P0", "P1", "P2", "P3"]
        assert all(f.reason.startswith("RuntimeError: always fails") for f in failed.values())
        assert [p for p, f in sorted(failed.items()) if _has_pixels(f)] == ["P2", "P3"]
        assert [p for p, f in sorted(failed.items()) if f.retryable] == ["P2", "P3"]
        for released in (failed["P0"], failed["P1"]):
            assert "pixel data released" in released.reason
            assert all(len(group) == 2 for group in released.inputs.values())  # headers kept
            assert released.attempts == 2
        assert store.retry_failed("P0") == 0  # nothing to process any more: still listed
        assert "P0" in {f.patient for f in store.failed()}
    # The automatic retry (process_retries) always had the pixels: the newest
    # failure keeps its data even where it alone exceeds the bound.
    assert pixels == [True] * 8


def test_the_newest_failure_keeps_its_data_even_above_the_bound_and_a_retry_gets_it():
    store = MemoryStore(keep_failed_bytes=SLICE)
    pixels: list[bool] = []
    pipeline = AlwaysFailing(port=0, data_directory=None, pixels=pixels)
    with Node(pipeline, store=store) as node:
        assert store_all(node, series("BIG", count=3)) == [0] * 3
        assert node.wait_idle(30)
        [failed] = store.failed()
        assert failed.retryable and _has_pixels(failed)
        assert store.retry_failed("BIG") == 3
        node._dispatcher.check(["BIG"])
        assert node.wait_idle(30)
        [again] = store.failed()
        assert again.retryable and _has_pixels(again)
    assert pixels == [True, True]

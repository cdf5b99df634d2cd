"""The dashboard in a real browser: Debian's chromium driven by Playwright, against a real node."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from dcmnode import Address, DicomOutput, Input, Job, Pipeline
from dcmnode.testing import RecordingSCP, series
from sending import store_all
from support import require_tool

CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


class CT(Input):
    required_values = {"Modality": "CT"}


class Flaky(Pipeline):
    """Fails until ``fixed`` is set, then sends the CT back out to ``destination``."""

    ae_title = "NODE"
    inputs = {"ct": CT}
    destination: Address | None = None
    fixed: bool = False

    def process(self, job: Job) -> DicomOutput:
        if not self.fixed:
            raise RuntimeError("model weights missing")
        return DicomOutput(job.inputs["ct"], self.destination)


@pytest.fixture
def browser() -> Any:
    chromium = require_tool("chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_an_operator_sees_a_failure_retries_it_and_sees_it_delivered(
    serve: Any, browser: Any, tmp_path: Path
) -> None:
    with RecordingSCP("PACS") as pacs, serve(Flaky, destination=str(pacs.address)) as api:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(api.url + "/")
        page.fill("#token", api.token)
        page.dispatch_event("#token", "change")
        page.click("#pause")
        page.wait_for_selector("#paused-flag:has-text('processing paused')")

        sent = series("WEB1", 4)
        assert store_all(api.node, sent) == [0] * 4
        api.node.wait_idle()
        row = page.locator("#patients tr", has_text="WEB1")
        row.wait_for()
        assert "processing paused" in row.inner_text()

        row.get_by_role("button", name="Process now").click()  # the job runs and fails
        failed = page.locator("#jobs tr", has_text="model weights missing")
        failed.wait_for()
        assert "failed" in failed.inner_text()
        failed.locator("a").click()
        page.wait_for_selector("#job-error:has-text('Traceback')")
        page.screenshot(path=str(tmp_path / "dashboard-failed.png"), full_page=True)

        api.node.pipeline.fixed = True  # the cause is fixed
        page.click("#resume")
        page.wait_for_selector("#message:has-text('resumed')")
        failed.get_by_role("button", name="Retry").click()
        page.wait_for_selector("#jobs tr:has-text('finished')")
        api.node.wait_idle()
        assert pacs.wait_for(4, timeout=30)
        assert sorted(str(ds.SOPInstanceUID) for ds in pacs.received) == sorted(
            str(ds.SOPInstanceUID) for ds in sent
        )
        page.wait_for_selector("#deliveries td.empty")  # nothing left in the outbox
        shot = tmp_path / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        keep = os.environ.get("DCMNODE_SCREENSHOT")  # the README's picture comes from here
        if keep:
            shutil.copy(tmp_path / "dashboard-failed.png", keep)

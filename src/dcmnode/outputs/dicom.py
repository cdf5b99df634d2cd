"""`DicomOutput`: C-STORE results to one or more peers."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from pydicom.dataset import Dataset

from dcmnode.errors import ExportError, PipelineError
from dcmnode.network.address import Address
from dcmnode.network.scu import send
from dcmnode.outputs.base import ExportContext, Output, check_datasets

log = logging.getLogger("dcmnode.outputs")


class DicomOutput(Output):
    """Send datasets with C-STORE to every address given.

    Parameters
    ----------
    datasets : Dataset or iterable of Dataset
        What to send; each needs ``file_meta`` with its transfer syntax
        (Explicit VR Little Endian is assumed otherwise).
    addresses : Address, str or a list of them
        Destinations; strings are parsed as ``"AET@host:port"``.
    """

    def __init__(
        self,
        datasets: Dataset | Iterable[Dataset],
        addresses: Address | str | Sequence[Address | str] | None,
    ) -> None:
        self.datasets = check_datasets(datasets, "DicomOutput.datasets")
        if addresses is None:
            raise PipelineError("DicomOutput.addresses: no destination given (is it configured?)")
        if isinstance(addresses, Address | str):
            addresses = [addresses]
        self.addresses = [a if isinstance(a, Address) else Address.parse(a) for a in addresses]
        if not self.addresses:
            raise PipelineError("DicomOutput.addresses: at least one address is needed")

    def export(self, context: ExportContext) -> None:
        problems = []
        for address in self.addresses:
            try:
                report = send(self.datasets, address, context.calling_ae, timeout=context.timeout)
            except Exception as exc:
                problems.append(f"{address}: {exc}")
                continue
            if report.ok:
                log.info(
                    "job %s: sent %d instances to %s",
                    context.job_id,
                    len(self.datasets),
                    address,
                )
            else:
                problems.append(f"{address}: {len(report.failed)} failed {report.summary()}")
        if problems:
            raise ExportError("; ".join(problems))

    def describe(self) -> str:
        targets = ", ".join(str(a) for a in self.addresses)
        return f"DicomOutput({len(self.datasets)} instances -> {targets})"

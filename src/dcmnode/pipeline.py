"""`Pipeline`: the class a user subclasses to describe a node."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydicom.dataset import Dataset

from dcmnode.errors import ConfigError, PipelineError
from dcmnode.events import hook_methods
from dcmnode.inputs.base import Input
from dcmnode.inputs.tags import resolve_tag
from dcmnode.job import Job
from dcmnode.network.address import check_ae_title, check_port
from dcmnode.runners.base import Runner
from dcmnode.settings import check_count, check_seconds, convert, from_default, settings_of

UNROUTED_CHOICES = ("reject", "discard")
DEADLINE_POLICIES = ("process", "fail", "wait")
WEBHOOK_EVENTS = ("job_failed", "export_failed", "export_delivered", "deadline_passed")


class Pipeline:
    """Describe a DICOM node: its inputs, its processing and its settings.

    Subclass it, declare ``inputs`` and implement ``process``; every public,
    annotated attribute is a setting that ``--config``, ``DCMNODE_*``
    environment variables and ``--set name=value`` can override.

    Attributes
    ----------
    ae_title : str
        The node's AE title (callers must address it when
        ``require_called_ae`` is on).
    host, port : str, int
        Where to listen. The default host is loopback only: set
        ``host = "0.0.0.0"`` to accept other machines. Port 0 picks a free one.
    inputs : Mapping[str, type[Input]]
        Input name -> Input subclass. A dataset goes to every input that
        accepts it.
    group_by : str
        Attribute that identifies a patient (keyword or tag).
    workers : int
        Jobs that run at once (default runner: `ThreadRunner`).
    queue_size : int
        Ready jobs that may wait for a worker.
    max_associations : int
        Associations served at once; more are rejected (transient).
    require_called_ae : bool
        Reject associations not addressed to ``ae_title``.
    allowed_calling_aes : list[str]
        If non-empty, only these calling AE titles may associate.
    unrouted : str
        ``"discard"`` (the default: success, dropped and logged) or
        ``"reject"`` (failure status) for datasets no input accepts or the
        filter rejects. Discard, because many modalities mark a whole
        transfer failed when one object of it (a dose report, a scout) is
        refused.
    quiet_period : float
        Seconds without new data for a patient before inputs that set no
        ``stable_after`` of their own are checked (0: check as soon as no
        association delivers). Guards the default completeness rule against
        modalities that send one association per image.
    delivery_idle : float
        Seconds after an open association last delivered for a patient when
        it stops holding that patient back (some PACS keep one association
        open for hours). 0: wait for the association to end.
    shutdown_timeout : float
        Seconds a graceful stop waits for associations and jobs.
    network_timeout, export_timeout : float
        Seconds of silence before an association is dropped; timeout of an
        outgoing C-STORE exchange.
    data_directory : str or None
        Where received instances and the index live (relative to the working
        directory). None keeps everything in memory: fast, and lost on exit.
    fsync : bool
        fsync every file before a success status (safe against power loss).
    min_free_mb : int
        Below this much free space in the data directory, C-STOREs are
        refused with 0xA700 until space returns.
    process_retries : int
        A failed job runs again on the same data this many times before
        the data is kept as failed (counted per node run).
    export_retries, export_backoff, export_backoff_max : int, float, float
        A `DicomOutput` that cannot be delivered is retried this many times,
        first after ``export_backoff`` seconds, doubling up to the maximum;
        then it is kept as failed.
    deadline, deadline_policy : float, str
        Seconds after a patient's first instance when, still incomplete and
        with nobody delivering, it is forced: ``"process"`` what arrived,
        ``"fail"`` it (kept as failed), or ``"wait"`` (log and keep waiting).
        0 means no deadline.
    expire_after : float
        Seconds after its last change a patient's waiting or failed data is
        removed (0: never). Default: 7 days.
    maintenance_interval : float
        Seconds between maintenance rounds (quiet periods, expiry).
    http : bool or None
        Serve the operating API, dashboard, metrics and health checks.
        None (the default): on under ``dcmnode run``, off for a `Node` built
        in code.
    http_host, http_port : str, int
        Where the HTTP server listens: loopback only by default (port 0:
        any free one).
    http_token : str or None
        The token every action (and, beyond loopback, every request) must
        carry; None: generated at first start into ``DATA_DIR/http-token``.
    audit_days : float
        Days the audit trail keeps its rows (0: for ever).
    webhook_url : str or None
        Where notifications are POSTed as JSON (None: none are sent).
    webhook_events : list[str]
        Which notifications go there: ``job_failed``, ``export_failed``
        (delivery failed for good), ``export_delivered``, ``deadline_passed``
        (an incomplete patient forced at its deadline).
    log_file : str or None
        Under ``dcmnode run``: also log to this file (relative: in the data
        directory), rotated at 10 MB, five kept.
    log_json : bool
        Under ``dcmnode run``: one JSON object per log line.
    runner : Runner or None
        Where jobs run; None means ``ThreadRunner(workers, queue_size)``.
        Each node runs a fresh copy of it (`Runner.fresh`).

    Methods named ``on_<event>`` (``on_job_failed``, ``on_export_delivered``,
    ... see `dcmnode.events`) are called with an `~dcmnode.events.Event`
    whenever the node emits that event; one that raises is logged and
    ignored.
    """

    ae_title: str = "DCMNODE"
    host: str = "127.0.0.1"
    port: int = 11112
    group_by: str = "PatientID"
    workers: int = 2
    queue_size: int = 64
    max_associations: int = 32
    require_called_ae: bool = True
    allowed_calling_aes: list[str] = []  # noqa: RUF012 - copied per instance
    unrouted: str = "discard"
    quiet_period: float = 2.0
    delivery_idle: float = 60.0
    shutdown_timeout: float = 30.0
    network_timeout: float = 60.0
    export_timeout: float = 60.0
    data_directory: str | None = "dcmnode-data"
    fsync: bool = True
    min_free_mb: int = 1024
    expire_after: float = 7 * 24 * 3600.0
    deadline: float = 0.0
    deadline_policy: str = "process"
    process_retries: int = 0
    export_retries: int = 10
    export_backoff: float = 5.0
    export_backoff_max: float = 600.0
    maintenance_interval: float = 1.0
    http: bool | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 11180
    http_token: str | None = None
    audit_days: float = 90.0
    webhook_url: str | None = None
    webhook_events: list[str] = ["job_failed", "export_failed"]  # noqa: RUF012 - copied per instance
    log_file: str | None = None
    log_json: bool = False

    inputs: ClassVar[Mapping[str, type[Input]]] = {}
    runner: ClassVar[Runner | None] = None
    _source: ClassVar[str | None] = None
    """``"path.py:Class"`` when loaded by ``dcmnode run``, so runners can reload it elsewhere."""

    def __init__(self, **settings: Any) -> None:
        known = settings_of(type(self))
        for name, value in settings.items():
            if name not in known:
                raise ConfigError(f"unknown setting {name!r} for {type(self).__name__}")
            kind = from_default(type(self), name, known[name])
            setattr(self, name, convert(name, kind, value, "constructor"))
        self.allowed_calling_aes = list(self.allowed_calling_aes)
        self.webhook_events = list(self.webhook_events)
        self.check()
        self.input_objects: dict[str, Input] = {name: cls() for name, cls in self.inputs.items()}

    def check(self) -> None:
        """Validate the settings and the pipeline's shape; raise naming the culprit.

        Subclasses that add settings may extend it (call ``super().check()``).
        """
        self.ae_title = check_ae_title(self.ae_title, "ae_title")
        if not isinstance(self.host, str) or not self.host.strip():
            raise ConfigError("host: an interface address is required (e.g. 127.0.0.1)")
        check_port(self.port, "port", allow_zero=True)
        resolve_tag(self.group_by, "group_by")
        for name in ("export_retries", "process_retries", "min_free_mb"):
            check_count(name, getattr(self, name), minimum=0)
        for name in ("workers", "queue_size", "max_associations"):
            check_count(name, getattr(self, name))
        for name in ("shutdown_timeout", "network_timeout", "export_timeout"):
            check_seconds(name, getattr(self, name))
        check_seconds("maintenance_interval", self.maintenance_interval)
        check_seconds("expire_after", self.expire_after, zero="never")
        check_seconds("deadline", self.deadline, zero="none")
        check_seconds("quiet_period", self.quiet_period, zero="no quiet period")
        check_seconds("delivery_idle", self.delivery_idle, zero="wait for the association to end")
        check_seconds("export_backoff", self.export_backoff)
        check_seconds("export_backoff_max", self.export_backoff_max)
        if self.data_directory is not None and not str(self.data_directory).strip():
            raise ConfigError("data_directory: give a folder, or none for memory only")
        if self.deadline_policy not in DEADLINE_POLICIES:
            raise ConfigError(
                f"deadline_policy: one of {DEADLINE_POLICIES}, got {self.deadline_policy!r}"
            )
        if self.unrouted not in UNROUTED_CHOICES:
            raise ConfigError(f"unrouted: must be one of {UNROUTED_CHOICES}, got {self.unrouted!r}")
        self.allowed_calling_aes = [
            check_ae_title(ae, "allowed_calling_aes") for ae in self.allowed_calling_aes
        ]
        self._check_operating()
        self._check_shape()

    def _check_operating(self) -> None:
        """The HTTP server's, audit trail's and webhooks' settings."""
        if not isinstance(self.http_host, str) or not self.http_host.strip():
            raise ConfigError("http_host: an interface address is required (e.g. 127.0.0.1)")
        check_port(self.http_port, "http_port", allow_zero=True)
        if self.http_token is not None and len(str(self.http_token)) < 16:
            raise ConfigError("http_token: use at least 16 characters (or none to generate one)")
        check_seconds("audit_days", self.audit_days, zero="keep for ever")
        if self.log_file is not None and not str(self.log_file).strip():
            raise ConfigError("log_file: give a file name, or none")
        unknown = sorted(set(self.webhook_events) - set(WEBHOOK_EVENTS))
        if unknown:
            raise ConfigError(f"webhook_events: unknown {unknown}; choose from {WEBHOOK_EVENTS}")
        if self.webhook_url is not None and not str(self.webhook_url).startswith(
            ("http://", "https://")
        ):
            raise ConfigError(f"webhook_url: an http:// or https:// URL, got {self.webhook_url!r}")

    def _check_shape(self) -> None:
        name = type(self).__name__
        if not isinstance(self.inputs, Mapping) or not self.inputs:
            raise PipelineError(f"{name}.inputs: declare at least one input, e.g. {{'ct': CT}}")
        for key, cls in self.inputs.items():
            if not isinstance(key, str) or not key:
                raise PipelineError(f"{name}.inputs: input names must be non-empty strings")
            if not (isinstance(cls, type) and issubclass(cls, Input)):
                raise PipelineError(f"{name}.inputs[{key!r}]: expected an Input subclass")
        if all(cls.optional for cls in self.inputs.values()):
            raise PipelineError(f"{name}.inputs: at least one input must not be optional")
        if type(self).process is Pipeline.process:
            raise PipelineError(f"{name}: implement process(self, job)")
        if self.runner is not None and not isinstance(self.runner, Runner):
            raise PipelineError(f"{name}.runner: expected a Runner, got {self.runner!r}")
        hook_methods(self)  # an on_... method that names no event is a typo: say so now

    def filter(self, dataset: Dataset) -> bool:
        """Return False to refuse *dataset* before routing (runs in the association thread).

        Keep it cheap: it runs once per received instance.
        """
        return True

    def process(self, job: Job) -> Any:
        """Turn one patient's inputs into results.

        Runs on a worker, never in an association thread. Return an output
        (`DicomOutput`, `FileOutput`, `NoOutput`), a list of outputs, or None.
        An exception marks the job failed and keeps the patient's data.
        """
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        """The effective value of every setting (for logs and status pages)."""
        return {name: getattr(self, name) for name in settings_of(type(self))}

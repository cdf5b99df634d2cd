"""Helpers shared by the test modules (importable because tests/ is on sys.path)."""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def require_tool(name: str) -> str:
    """Path of a command-line tool; fails under CI=true, skips elsewhere, when missing."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (Debian package: see scripts/setup.sh)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    """A port that was free a moment ago -- and may be taken by anyone before it is used.

    Prefer port 0 with the server saying which port it bound (a node, a
    `RecordingSCP`, ``dcmnode run --port 0``), or `reserved_port` for a
    number that must be known before the server starts.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def reserved_port() -> Iterator[int]:
    """A loopback port that stays ours until the block ends, with nothing answering on it.

    `free_port` closes its socket before the server binds, so another test
    (or another test run on the machine) can take the number in between.
    Here the socket stays bound, with SO_REUSEADDR and never listening:

    - connecting to the port is refused, as to a destination that is down;
    - the kernel never hands the port out for ``bind(("", 0))`` or as the
      source port of an outgoing connection, and a bind without
      SO_REUSEADDR fails;
    - a server that binds with SO_REUSEADDR (pynetdicom, DCMTK's storescp,
      Orthanc, Dask) can still bind the port and listen while we hold it.

    So the number can be written into a configuration or a destination
    long before the server starts, and no one else can grab it meanwhile.
    """
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 0))
        yield int(holder.getsockname()[1])


def run_threads(
    target: Callable[..., object],
    arguments: Iterable[Sequence[object]],
    barriers: Sequence[threading.Barrier] = (),
    timeout: float = 60.0,
) -> None:
    """Run ``target(*args)`` in one thread per *arguments* item; raise their failure here.

    An exception in a plain thread only becomes a warning, so an assertion
    made there would never fail the test. Here every thread's exception is
    collected and the first one is raised in the calling thread, after all
    threads ended. A failing thread breaks *barriers*, so that its
    companions waiting there give up instead of waiting out their timeouts.
    """
    errors: list[BaseException] = []

    def run(*args: object) -> None:
        try:
            target(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            errors.append(exc)
            for barrier in barriers:
                barrier.abort()

    threads = [threading.Thread(target=run, args=tuple(args), daemon=True) for args in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    # A broken barrier is the echo of another thread's failure: report the cause.
    errors.sort(key=lambda exc: isinstance(exc, threading.BrokenBarrierError))
    if errors:
        raise errors[0]
    stuck = [thread.name for thread in threads if thread.is_alive()]
    assert not stuck, f"threads still running after {timeout} s: {stuck}"


def read_until(child: subprocess.Popen[str], marker: str, timeout: float = 60.0) -> str:
    """Read *child*'s output up to the first line containing *marker*; return that line.

    A deterministic join on a subprocess: it has said it is ready. A child
    that exits first fails the test with its output; one that neither says
    it nor exits is killed after *timeout* seconds (a safety net only).
    """
    assert child.stdout is not None, "start the child with stdout=subprocess.PIPE, text=True"
    watchdog = threading.Timer(timeout, child.kill)
    watchdog.start()
    seen: list[str] = []
    try:
        for line in child.stdout:
            if marker in line:
                return line
            seen.append(line)
    finally:
        watchdog.cancel()
    raise AssertionError(f"no {marker!r} from {child.args!r}; it said:\n{''.join(seen)}")


def drain(child: subprocess.Popen[str]) -> None:
    """Keep reading *child*'s output in the background, so that it never blocks on a full pipe."""
    assert child.stdout is not None
    threading.Thread(target=child.stdout.read, daemon=True).start()


def listening_port(line: str) -> int:
    """The port in a ``dcmnode run`` child's "listening on HOST:PORT" line.

    Start the child with ``--port 0`` and wait for the line with
    ``read_until(child, " listening on ")``: the node binds a free port
    itself and says which, so no other test can take the port between
    choosing and binding it.
    """
    found = re.search(r" listening on \S+:(\d+) ", line)
    assert found is not None, line
    return int(found.group(1))


def wait_for_scp(
    ae_title: str, port: int, child: subprocess.Popen[bytes], timeout: float = 60.0
) -> None:
    """Block until the SCP *child* (an external tool) answers a C-ECHO on *port*.

    For tools that print nothing when they start listening (DCMTK's
    storescp): a real round trip is the only signal there is. Each probe is
    refused at once until the tool listens, so the probes are spaced by a
    short pause; *timeout* is a safety net, and the test's outcome never
    depends on how long this took.
    """
    from dcmnode.errors import NetworkError
    from dcmnode.network.address import Address
    from dcmnode.network.scu import echo

    address = Address(ae_title, "127.0.0.1", port)
    gave_up = threading.Event()
    watchdog = threading.Timer(timeout, gave_up.set)
    watchdog.start()
    try:
        while not gave_up.is_set():
            assert child.poll() is None, f"{child.args!r} exited with {child.returncode}"
            try:
                if echo(address, "PROBE", timeout=5) == 0:
                    return
            except NetworkError:
                gave_up.wait(0.05)  # refused: the tool has not reached listen() yet
    finally:
        watchdog.cancel()
    raise AssertionError(f"{child.args!r} did not answer on port {port} in {timeout} s")


@contextmanager
def logged(logger: str, text: str) -> Iterator[threading.Event]:
    """An Event set when *logger* (or a child of it) logs a message containing *text*.

    A deterministic join on what the node says it did, for the work that
    has no event of its own (expiry), instead of polling its state.
    """
    happened = threading.Event()

    class Watcher(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if text in record.getMessage():
                happened.set()

    watcher = Watcher(logging.DEBUG)
    target = logging.getLogger(logger)
    target.addHandler(watcher)
    try:
        yield happened
    finally:
        target.removeHandler(watcher)


class Transcript:
    """A child's output, read line by line in the background and kept.

    `wait_until` re-tests its condition at every new line, so a test can
    join on what the child says it did ("finished", "listening") instead of
    polling; the reading also keeps the pipe from filling up.
    """

    def __init__(self, child: subprocess.Popen[str]) -> None:
        assert child.stdout is not None, "start the child with stdout=subprocess.PIPE, text=True"
        self.lines: list[str] = []
        self._ended = False
        self._cond = threading.Condition()
        self._stream = child.stdout
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self._stream:
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def wait_until(self, condition: Callable[[], bool], timeout: float = 60.0) -> bool:
        """Block until *condition()* holds, testing it at every line; False if it never did.

        Gives up when the child's output ends (it exited) or after *timeout*
        seconds (a safety net).
        """
        with self._cond:
            self._cond.wait_for(lambda: condition() or self._ended, timeout)
            return condition()

    def rest(self, timeout: float = 60.0) -> str:
        """Everything the child wrote, once its output has ended (it exited)."""
        with self._cond:
            assert self._cond.wait_for(lambda: self._ended, timeout), "the child still writes"
            return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        """The first line containing *text*, once the child has said it."""
        found = self.wait_until(lambda: any(text in line for line in self.lines), timeout)
        assert found, f"no {text!r} in the output:\n{''.join(self.lines)}"
        return next(line for line in self.lines if text in line)

"""One process per data directory: an OS file lock held for the store's life.

Why a lock: two nodes (or ``dcmnode failed discard`` next to a live node)
sharing one data directory would undo each other's work -- a starting node
empties ``tmp/``, deleting the running node's files that are being written,
and a discard deletes files a live node still holds in memory.

Why ``flock``: the kernel drops it when its holder dies, even by ``kill -9``,
so a crash never leaves a stale lock behind and nobody has to delete a lock
file by hand. The file stays; only the lock on it matters. The holder's PID
is written into it so that the error can name who holds it.
"""

from __future__ import annotations

import fcntl
import os
import weakref
from pathlib import Path
from types import TracebackType

from dcmnode.errors import DcmnodeError

LOCK_NAME = "dcmnode.lock"


class DataDirectoryInUse(DcmnodeError):
    """Another process (a running node, or a ``dcmnode failed`` command) holds the data directory.

    Attributes
    ----------
    directory : Path
        The data directory.
    pid : int or None
        The holder's process id, when it could be read from the lock file.
    """

    def __init__(self, directory: Path, pid: int | None) -> None:
        holder = f"process {pid}" if pid is not None else "another process"
        super().__init__(
            f"data directory {directory} is in use by {holder} (a running node?): "
            "stop it first, or use another data_directory"
        )
        self.directory = directory
        self.pid = pid


class DirectoryLock:
    """An exclusive, non-blocking lock on *directory* (which must exist).

    Raises `DataDirectoryInUse` at construction when another open lock --
    in this or another process -- holds it.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / LOCK_NAME
        # O_CLOEXEC: a child process (the process runner) must not inherit
        # the descriptor and keep the directory locked after the node stops.
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(self._fd)
            self.release()
            raise DataDirectoryInUse(directory, pid) from None
        except BaseException:
            self.release()
            raise
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)
        # A store that is dropped without close() (a Node built but never
        # started) must not keep the directory locked for the process's life.
        self._finalizer = weakref.finalize(self, os.close, self._fd)

    def release(self) -> None:
        """Give the lock up (idempotent). The file is left for the next holder."""
        fd, self._fd = self._fd, None
        if fd is not None:
            if hasattr(self, "_finalizer"):
                self._finalizer.detach()
            os.close(fd)  # closing the only descriptor releases the flock

    def __enter__(self) -> DirectoryLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    # The holder writes its PID right after locking; reading between the two
    # finds an empty file, and the message then says "another process".
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text)
    except (OSError, ValueError):
        return None

"""The output folder: one run at a time (a lock), made on demand, left as found if the run writes nothing."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from types import TracebackType
from typing import IO

from minimizer.errors import InputError

LOCKNAME = ".wheel-ddmin.lock"


class OutputFolder:
    """Held for a whole run: a second run on the same folder is refused before it touches anything.

    Two runs on one folder would replace each other's wheels and journals while each reports its own.
    Creating the lock file is also the proof, before any oracle run, that the folder is writable.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._created: list[Path] = []
        self._handle: IO[str] | None = None

    def __enter__(self) -> OutputFolder:
        self._created = [p for p in (self.path, *self.path.parents) if not p.exists()]
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(f"cannot create the output folder {self.path}: {error.strerror}") from error
        try:
            self._handle = self._lock()
        except BaseException:
            self._remove_created()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._handle is not None:
            # Unlinked while still held, so a run waiting on this file cannot lock a removed one.
            with contextlib.suppress(OSError):
                (self.path / LOCKNAME).unlink()
            self._handle.close()
            self._handle = None
        self._remove_created()

    def _lock(self) -> IO[str]:
        lock = self.path / LOCKNAME
        while True:
            try:
                handle = open(lock, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole run
            except OSError as error:
                raise InputError(
                    f"cannot write into the output folder {self.path}: {error.strerror}"
                ) from error
            if not _try_lock(handle):
                handle.seek(0)
                owner = handle.read().strip()
                handle.close()
                by = f" (pid {owner})" if owner.isdigit() else ""
                raise InputError(
                    f"the output folder {self.path} is in use by another wheel-ddmin run{by}: "
                    "wait for it to finish, or choose another -o folder"
                )
            if _same_file(lock, handle):
                handle.seek(0)
                handle.truncate()
                handle.write(str(os.getpid()))
                handle.flush()
                return handle
            handle.close()  # its owner removed it as we opened it: lock the next one

    def _remove_created(self) -> None:
        """Folders this run created and left empty go again (a failed run leaves no trace)."""
        for folder in self._created:
            try:
                folder.rmdir()
            except OSError:
                return


def _try_lock(handle: IO[str]) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _same_file(path: Path, handle: IO[str]) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
    except FileNotFoundError:
        return False

"""Runs inside an emulated target: run a script, then write the process's memory map for the host.

Started as ``python [FLAGS] _maps_boot.py SCRIPT ARGS`` with ``$WHEEL_DDMIN_MAPS`` naming the files
to write (``-<pid>.txt`` is added, as qemu adds the pid to its log's name). The map
(``/proc/self/maps`` as the emulator shows it to its guest) is what turns the guest addresses of an
emulator's code log into places in files. Standard library only.
"""

from __future__ import annotations

import atexit
import os
import runpy
import sys


def _write_maps(prefix: str) -> None:
    with open("/proc/self/maps", encoding="utf-8", errors="replace") as source:
        text = source.read()
    with open(f"{prefix}-{os.getpid()}.txt", "w", encoding="utf-8") as handle:
        handle.write(text)


def main() -> None:
    prefix = os.environ.get("WHEEL_DDMIN_MAPS", "")  # oracles._trace.MAPS_ENV
    if prefix:
        atexit.register(_write_maps, prefix)
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0] or ".") == here:
        # Not -I or -P: the script's folder stands where plain `python SCRIPT` puts it, not ours.
        sys.path[0] = os.path.dirname(os.path.abspath(script))
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()

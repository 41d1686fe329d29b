"""Starts the python of a user's check command, tracing what it uses under the candidate tree.

The check's ``python`` is a launcher that runs ``python -S _check_boot.py ARGS``; this script
plays ``python ARGS`` for the usual forms (``-c CODE``, ``-m MODULE``, ``SCRIPT``), with the
tracer on, and writes what it saw (see ``_trace.Tracer.collect``) to
``$WHEEL_DDMIN_TRACE_DIR/<pid>.json`` at exit. Anything else (other interpreter flags) runs
untraced, as plain ``python -S ARGS`` on the target, and leaves a note saying so.
"""

from __future__ import annotations

import atexit
import json
import os
import runpy
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from oracles._trace import Tracer, dump_maps
else:
    from _trace import Tracer, dump_maps

del sys.path[0]  # this folder: the check must not import wheel-ddmin's modules by accident


def _write_trace(tracer: Tracer, folder: str) -> None:
    with open(os.path.join(folder, f"{os.getpid()}.json"), "w", encoding="utf-8") as handle:
        json.dump(tracer.collect(), handle)


def main(args: list[str]) -> None:
    root, folder = os.environ.get("WHEEL_DDMIN_TRACE_ROOT"), os.environ.get("WHEEL_DDMIN_TRACE_DIR")
    if not args or (args[0] not in ("-c", "-m") and args[0].startswith("-")):
        if root and folder:  # say so: what this python runs stays unknown, not unused
            with open(os.path.join(folder, f"{os.getpid()}.json"), "w", encoding="utf-8") as handle:
                json.dump({"untraced": True}, handle)
        # The target's own command line: behind an emulator, sys.executable cannot be exec'd directly.
        argv = json.loads(os.environ.get("WHEEL_DDMIN_TARGET_ARGV") or "null") or [sys.executable]
        os.execvp(argv[0], [*argv, "-S", *args])
    if root and folder:
        tracer = Tracer([root])
        atexit.register(_write_trace, tracer, folder)
    else:
        atexit.register(dump_maps)  # an emulated traced run asks for the memory map (it may not)
    if args[0] == "-c":
        sys.argv = ["-c", *args[2:]]
        sys.path.insert(0, "")
        exec(compile(args[1], "<string>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
    elif args[0] == "-m":
        sys.argv = [args[1], *args[2:]]
        sys.path.insert(0, os.getcwd())
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = list(args)
        sys.path.insert(0, os.path.dirname(os.path.abspath(args[0])))
        runpy.run_path(args[0], run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])

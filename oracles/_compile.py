"""Runs inside the target interpreter: byte-compile the ``[source, pyc]`` pairs listed on stdin (JSON).

For a target whose bytecode differs from the host's (another Python version), so that every
candidate imports compiled modules instead of compiling them at each run. Standard library only.
"""

from __future__ import annotations

import contextlib
import json
import os
import py_compile
import sys

_UNCHECKED = py_compile.PycInvalidationMode.UNCHECKED_HASH


def main() -> int:
    jobs = json.load(sys.stdin)
    for source, pyc in jobs:
        os.makedirs(os.path.dirname(pyc), exist_ok=True)
        # Not valid Python for this interpreter (a template, say): it is never imported.
        with contextlib.suppress(py_compile.PyCompileError):
            py_compile.compile(source, cfile=pyc, doraise=True, invalidation_mode=_UNCHECKED)
    return 0


if __name__ == "__main__":
    sys.exit(main())

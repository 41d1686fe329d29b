"""A tiny shared object built with gcc at test time, for the machine-code tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

GCC = shutil.which("gcc")
needs_gcc = pytest.mark.skipif(GCC is None, reason="gcc is not installed")

# used/calls_helper/checked are what a caller runs; unused is never called; alias is a second
# name of target (one address); checked.cold is GCC's split-off unlikely path of checked;
# tail_calls jumps to helper2 (a tail call) rather than calling it.
SOURCE = r"""
#include <stdio.h>
#include <stdlib.h>

int used(int x) { return x + 1; }
int unused(int x) { return x * 3 + 7; }
int target(int x) { return x - 1; }
extern int alias(int) __attribute__((alias("target")));
static __attribute__((noinline)) int helper(int x) { return x ^ 5; }
int calls_helper(int x) { return helper(x) + 1; }
static __attribute__((noinline)) int helper2(int x) { return x * 7 - 3; }
int tail_calls(int x) { return helper2(x * 3); }
__attribute__((cold, noinline)) static void complain(int x) { fprintf(stderr, "negative %d\n", x); }
int checked(int x) {
    if (x < 0) { complain(x); abort(); }
    return x * 2;
}
"""


def build_library(folder: Path, *, name: str = "libtoy.so", extra: tuple[str, ...] = ()) -> Path:
    """Compile ``SOURCE`` into ``folder/name`` (-O2, as wheels are built) and return its path."""
    assert GCC is not None
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "toy.c"
    source.write_text(SOURCE)
    target = folder / name
    subprocess.run([GCC, "-O2", "-shared", "-fPIC", *extra, "-o", str(target), str(source)], check=True)
    return target

"""Which functions are one kernel built for several CPUs: family rules on symbol names.

numpy, XNNPACK and ruy choose a kernel by CPU features at run time; a trace on one CPU enters one
variant, another CPU enters a sibling. Keeping one member of a family keeps all of it:

1. numpy dispatch targets. A trailing ``_AVX2``, ``_FMA3__AVX2``, ``_AVX512_SKX``, ``_X86_V3``
   (numpy's CPU feature names, in C names and in C++ source names) goes: ``DOUBLE_log_AVX512_SKX``,
   ``DOUBLE_log_FMA3__AVX2`` and the baseline ``DOUBLE_log`` are one family. numpy compiles each
   dispatch source once per target, so its static helpers occur once per target under one name:
   one name, one family.
2. XNNPACK. A micro-kernel's family is its operation, the part before ``_ukernel``: tile and ISA
   both change between CPUs (``xnn_f32_gemm_minmax_ukernel_7x16__avx512f_broadcast`` against
   ``..._4x8__fma3_broadcast``). A parameter initializer's family is the part before its ISA word
   (``xnn_init_f32_minmax_sse_params`` and ``..._scalar_params``). XNNPACK packs weights with a
   ``packw`` micro-kernel on some CPUs and with the portable ``xnn_pack_*`` functions on others:
   ``xnn_x32_packw_gemm_goi_ukernel_*`` and ``xnn_pack_f32_gemm_goi_w`` are one family.
3. ruy and other C++. ISA words inside source names (``Kernel8bitAvx512``, ``Kernel8bitAvx2Fma``)
   go, and integer template arguments (ruy's ``Path`` values, tile sizes) are wildcards.
4. Code that branches on the CPU model or on values. CPU probing is one family per library:
   ``cpuinfo_*`` (vendor-specific cache, topology and brand-string decoding), numpy's
   ``npy_cpu_*``/``npy__cpu_*``, ruy's ``CpuInfo``; and it keeps what it calls directly, run or
   not (``probes_cpu``). numpy's floating-point status helpers (``npy_set_floatstatus_*``, ...)
   are one family, since which flag a kernel raises depends on the kernel and the values.

A function's keys are those of all its names (aliases); functions sharing a key are one family.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

__all__ = ["NUMPY_FEATURES", "PROBING", "families", "family_keys", "probes_cpu"]

# numpy's CPU feature and dispatch-target names (numpy/_core/src/common/npy_cpu_features.h).
NUMPY_FEATURES = (  # noqa: SIM905 - a list of names reads best as one string
    "SSE SSE2 SSE3 SSSE3 SSE41 POPCNT SSE42 AVX F16C XOP FMA4 FMA3 AVX2 AVX512F AVX512CD AVX512ER "
    "AVX512PF AVX5124FMAPS AVX5124VNNIW AVX512VPOPCNTDQ AVX512VL AVX512BW AVX512DQ AVX512VNNI "
    "AVX512IFMA AVX512VBMI AVX512VBMI2 AVX512BITALG AVX512FP16 AVX512_KNL AVX512_KNM AVX512_SKX "
    "AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR X86_V2 X86_V3 X86_V4 "
    "NEON NEON_FP16 NEON_VFPV4 ASIMD FPHP ASIMDHP ASIMDDP ASIMDFHM SVE "
    "VSX VSX2 VSX3 VSX4 VX VXE VXE2 RVV LSX"
).split()
_XNN_ISAS = (  # noqa: SIM905
    "scalar sse sse2 ssse3 sse41 avx avx2 avx512 avx512f avx512skx avx512vnni avx512vnnigfni "
    "avx512amx avxvnni f16c fma3 xop neon neonfp16 neonfp16arith neonfma neonv8 neondot neoni8mm "
    "aarch64 wasm wasmsimd wasmrelaxedsimd rvv hvx"
).split()
_XNN_UKERNEL = re.compile(r"^(xnn_\w+?)_ukernel(?:_|$)")
_XNN_PARAMS = re.compile(
    rf"^(xnn_(?:init|update)_\w+?)_(?:{'|'.join(sorted(_XNN_ISAS, key=len, reverse=True))})(?:_\w+)?_params$"
)
_XNN_PACK = re.compile(r"^xnn_(?:pack_[a-z0-9]+_(?P<op>\w+?)_w|[a-z0-9]+_packw_(?P<opw>\w+?)_ukernel_\w*)$")
_CPP_ISA = re.compile(
    r"(?:Avx512(?:Vnni|Bw|Dq|Vl|Skx|F)?|Avx2Fma|AvxVnni|Avx2|Avx|Sse4[12]|Ssse3|Sse[23]?|NeonDotprod|Neon)"
    r"(?![a-z])"
)
_INT_LITERAL = re.compile(r"L([a-z]|N\w*?E)n?\d+E")  # <int, 16> or <(ruy::Path)64> in a mangled name
_SOURCE_NAME = re.compile(r"(?<![0-9])(\d+)(?=[A-Za-z_])")
_WHOLE_FAMILIES = (
    (re.compile(r"^cpuinfo_"), "cpuinfo"),
    (re.compile(r"^npy__?cpu_"), "npy:cpu"),
    (re.compile(r"^_ZN3ruy7CpuInfo"), "ruy:cpuinfo"),
    (re.compile(r"^npy_\w+_floatstatus"), "npy:fpstatus"),
)
# Code that probes the CPU takes other branches on other CPUs: what it calls directly stays too,
# run or not (cpuinfo's static helpers, which normalize a brand string other CPUs spell otherwise).
PROBING = frozenset({"cpuinfo", "npy:cpu", "ruy:cpuinfo"})


def _suffix(features: Iterable[str]) -> re.Pattern[str]:
    names = "|".join(sorted(set(features), key=len, reverse=True))
    return re.compile(rf"(?<=[A-Za-z0-9])_(?:{names})(?:__(?:{names}))*$")


_NUMPY_SUFFIX = _suffix(NUMPY_FEATURES)


def family_keys(name: str, suffix: re.Pattern[str] = _NUMPY_SUFFIX) -> frozenset[str]:
    """The family keys of one symbol name (rules 1-4 of the module docstring)."""
    for pattern, family in _WHOLE_FAMILIES:
        if pattern.match(name):
            return frozenset({family})
    packing = _XNN_PACK.match(name)
    if packing:
        return frozenset({f"xnn:pack:{packing.group('op') or packing.group('opw')}"})
    match = _XNN_UKERNEL.match(name) or _XNN_PARAMS.match(name)
    if match:
        return frozenset({f"xnn:{match.group(1)}"})
    if name.startswith("_Z"):
        return frozenset({_mangled_key(name, suffix)})
    return frozenset({suffix.sub("", name)})


def _mangled_key(name: str, suffix: re.Pattern[str]) -> str:
    """A mangled C++ name with integer template arguments wildcarded and ISA words dropped."""
    name = _INT_LITERAL.sub(lambda m: f"L{m.group(1)}#E", name)
    out, pos = [], 0
    for match in _SOURCE_NAME.finditer(name):
        if match.start() < pos or _is_index(name, match):
            continue
        length = int(match.group(1))
        word = name[match.end() : match.end() + length]
        if len(word) < length or not re.fullmatch(r"\w+", word):
            continue
        plain = _CPP_ISA.sub("", suffix.sub("", word)) or word
        out.append(name[pos : match.start()] + f"{len(plain)}{plain}")
        pos = match.end() + length
    return "".join(out) + name[pos:]


def _is_index(name: str, match: re.Match[str]) -> bool:
    """``S3_``, ``T0_``, ``Dv4_``: a substitution or vector index, not a source name's length."""
    before = name[match.start() - 1 : match.start()]
    return before in ("S", "T", "v") and name[match.end() : match.end() + 1] == "_"


def probes_cpu(names: Sequence[str]) -> bool:
    """Whether a function (given its names) is CPU-probing code (rule 4)."""
    return any(key in PROBING for name in names for key in family_keys(name))


def families(names: Sequence[Sequence[str]], features: Iterable[str] = ()) -> list[int]:
    """A family number for each function (given its names), numbered by first appearance.

    ``features`` adds CPU feature names that rule 1 strips (numpy's own list, learned at run time).
    """
    suffix = _suffix((*NUMPY_FEATURES, *features))
    parent = list(range(len(names)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    owner: dict[str, int] = {}
    for index, aliases in enumerate(names):
        for name in aliases:
            for key in family_keys(name, suffix):
                first = owner.setdefault(key, index)
                parent[root(index)] = root(first)
    numbers: dict[int, int] = {}
    return [numbers.setdefault(root(i), len(numbers)) for i in range(len(names))]

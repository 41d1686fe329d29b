"""ISA family rules on real symbol names from numpy 1.26/2.4, tflite-runtime 2.14 and ai-edge-litert 2.3."""

from __future__ import annotations

import pytest

from minimizer.kernels import families, family_keys, probes_cpu

SAME = [
    # numpy dispatch targets, C names: baseline, grouped target, AVX-512 target.
    ("DOUBLE_log", "DOUBLE_log_FMA3__AVX2", "DOUBLE_log_AVX512F", "DOUBLE_log_AVX512_SKX"),
    ("FLOAT_exp", "FLOAT_exp_AVX512_SKX", "FLOAT_exp_X86_V3", "FLOAT_exp_X86_V4"),
    # numpy 2 C++ dispatch (x86-simd-sort entry points), mangled: the length prefix changes.
    (
        "_ZN2np10qsort_simd15ArgQSort_X86_V3IlEEvPT_Pll",
        "_ZN2np10qsort_simd15ArgQSort_X86_V4IlEEvPT_Pll",
        "_ZN2np10qsort_simd19ArgQSort_AVX512_SPRIlEEvPT_Pll",
    ),
    # XNNPACK micro-kernels: one operation, other tiles and ISAs.
    (
        "xnn_f32_gemm_minmax_ukernel_7x16__avx512f_broadcast",
        "xnn_f32_gemm_minmax_ukernel_4x8__fma3_broadcast",
        "xnn_f32_gemm_minmax_ukernel_1x8__sse_load1",
    ),
    (
        "xnn_f32_raddstoreexpminusmax_ukernel__sse2_rr2_p5_x20_acc2",
        "xnn_f32_raddstoreexpminusmax_ukernel__avx2_rr2_p5_x64",
    ),
    # XNNPACK parameter initializers and packing.
    (
        "xnn_init_f32_sigmoid_avx512_rr2_lut32_p2_params",
        "xnn_init_f32_sigmoid_scalar_rr2_lut64_p2_div_params",
    ),
    ("xnn_init_f32_minmax_sse_params", "xnn_init_f32_minmax_avx_params", "xnn_init_f32_minmax_scalar_params"),
    ("xnn_x32_packw_gemm_goi_ukernel_x16__avx512f_prfm_x4", "xnn_pack_f32_gemm_goi_w"),
    # ruy: ISA words in names, Path values and tile sizes as template arguments.
    (
        "_ZN3ruy16Kernel8bitAvx512ERKNS_16KernelParams8bitILi16ELi16EEE",
        "_ZN3ruy17Kernel8bitAvx2FmaERKNS_16KernelParams8bitILi8ELi8EEE",
    ),
    (
        "_ZN3ruy9RunKernelINS_6KernelILNS_4PathE64EaaiaEEE3RunENS_6TuningERKNS_8SidePairINS_5PEMatEEEPKvRKNS6_IiEESF_PNS_4EMatE",
        "_ZN3ruy9RunKernelINS_6KernelILNS_4PathE32EaaiaEEE3RunENS_6TuningERKNS_8SidePairINS_5PEMatEEEPKvRKNS6_IiEESF_PNS_4EMatE",
    ),
    ("_ZN3ruy25Pack8bitColMajorForAvx512EPKaaS1_iiiPaPi", "_ZN3ruy23Pack8bitColMajorForAvx2EPKaaS1_iiiPaPi"),
    # Whole-library families: CPU probing, floating-point status.
    ("cpuinfo_x86_decode_cache_properties", "cpuinfo_x86_decode_cache_descriptor", "cpuinfo_initialize"),
    ("npy_set_floatstatus_underflow", "npy_set_floatstatus_overflow", "npy_clear_floatstatus_barrier"),
]
DIFFERENT = [
    ("DOUBLE_log", "DOUBLE_log10"),
    ("DOUBLE_logical_and", "DOUBLE_log"),
    ("xnn_f32_gemm_minmax_ukernel_4x8__fma3_broadcast", "xnn_f32_igemm_minmax_ukernel_4x8__fma3_broadcast"),
    ("xnn_init_f32_minmax_sse_params", "xnn_init_f32_scaleminmax_sse_params"),
    ("xnn_init_f32_gemm_config", "xnn_init_f32_igemm_config"),
    (
        "_ZN3ruy16Kernel8bitAvx512ERKNS_16KernelParams8bitILi16ELi16EEE",
        "_ZN3ruy17KernelFloatAvx512ERKNS_17KernelParamsFloatILi16ELi16EEE",
    ),
    ("_ZN6tflite3ops7builtin13Register_LESSEv", "_ZN6tflite3ops7builtin16Register_GREATEREv"),
    ("PyInit__multiarray_umath", "cpuinfo_initialize"),
]


@pytest.mark.parametrize("names", SAME, ids=lambda n: n[0][:40])
def test_variants_of_one_kernel_share_a_family(names: tuple[str, ...]) -> None:
    keys = [family_keys(name) for name in names]
    assert all(k == keys[0] for k in keys), keys


@pytest.mark.parametrize("pair", DIFFERENT, ids=lambda n: n[0][:40])
def test_other_functions_stay_apart(pair: tuple[str, str]) -> None:
    assert not family_keys(pair[0]) & family_keys(pair[1])


def test_families_join_through_aliases_and_learned_features() -> None:
    names = [("conv_AVX2",), ("conv", "conv_alias"), ("conv_alias_NEWISA",), ("other",), ("conv_NEWISA",)]
    numbers = families(names)
    assert numbers[0] == numbers[1] and numbers[3] not in (numbers[0], numbers[2])
    assert numbers[2] != numbers[1] and numbers[4] != numbers[1]  # NEWISA is not a known feature
    learned = families(names, ["NEWISA"])
    assert learned[0] == learned[1] == learned[2] == learned[4] != learned[3]
    assert list(dict.fromkeys(learned)) == list(range(len(set(learned)))), "numbered by first appearance"


@pytest.mark.parametrize(
    "name, probing",
    [
        ("cpuinfo_x86_normalize_brand_string", True),
        ("npy__cpu_init_features", True),
        ("npy_cpu_init", True),
        ("_ZN3ruy7CpuInfo7AvxVnniEv", True),
        ("erase_matching", False),  # cpuinfo's static helper: kept as a callee of probing code
        ("npy_set_floatstatus_invalid", False),
        ("DOUBLE_log_AVX2", False),
    ],
)
def test_cpu_probing_code_is_known_by_name(name: str, probing: bool) -> None:
    assert probes_cpu([name]) is probing

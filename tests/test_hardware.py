"""Hardware specs: parsing /proc and /sys text, the peak table and user overrides."""

from __future__ import annotations

import pytest

from pragma_kernels.errors import PragmaError
from pragma_kernels.hardware import (
    detect_cpu,
    load_overrides,
    parse_cpuinfo,
    parse_size,
    peaks_for,
)

CPUINFO = """processor\t: 0
model name\t: AMD EPYC 9B14
flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512bw
processor\t: 1
model name\t: AMD EPYC 9B14
flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512bw
"""


def test_parse_cpuinfo_reads_model_count_and_simd():
    assert parse_cpuinfo(CPUINFO) == (
        "AMD EPYC 9B14",
        2,
        ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw"],
    )


@pytest.mark.parametrize(
    ("text", "size"), [("32K", 32768), ("1024 KiB", 2**20), ("8M", 2**23), ("512", 512)]
)
def test_parse_size(text, size):
    assert parse_size(text) == size


def test_builtin_peaks_match_specific_variants_first():
    assert peaks_for("NVIDIA H200").dram_gbps == 4800
    assert peaks_for("NVIDIA H100 PCIe").dram_gbps == 2000
    assert peaks_for("NVIDIA H100 80GB HBM3").dram_gbps == 3350
    assert peaks_for("NVIDIA A100-SXM4-40GB").dram_gbps == 1555
    assert peaks_for("AMD Instinct MI300X").bf16_tflops == 1307.4
    assert peaks_for("Some Future GPU") is None


def test_user_spec_file_overrides_the_table(tmp_path):
    spec = tmp_path / "hardware.toml"
    spec.write_text(
        '[gpu."H200"]\ndram_gbps = 4000\nfp32_tflops = 60\ntf32_tflops = 400\n'
        "fp16_tflops = 900\nbf16_tflops = 900\n"
    )
    peaks = peaks_for("NVIDIA H200", load_overrides(spec)["gpu"])
    assert peaks.dram_gbps == 4000 and "user spec file" in peaks.source


def test_incomplete_spec_file_is_a_clear_error(tmp_path):
    spec = tmp_path / "hardware.toml"
    spec.write_text('[gpu."H200"]\ndram_gbps = 4000\n')
    with pytest.raises(PragmaError, match="hardware.toml.*missing"):
        load_overrides(spec)


def test_detect_cpu_on_this_machine():
    cpu = detect_cpu()
    assert cpu.available_cpus >= 1 and cpu.logical_cpus >= cpu.available_cpus


def test_cpu_generation_clock_and_a_theoretical_peak_from_cpuinfo():
    from pragma_kernels.hardware import CpuSpec, parse_cpu_details, peak_gflops_fp32

    text = (
        "model name\t: AMD EPYC\ncpu family\t: 26\nmodel\t\t: 2\nstepping\t: 1\n"
        "cpu MHz\t\t: 2596.098\n"
    )
    details = parse_cpu_details(text)
    assert details == {"family": "26", "model": "2", "stepping": "1", "mhz": "2596.098"}
    spec = CpuSpec("AMD EPYC", 2, 2, {}, ["avx2", "fma", "avx512f"], details=details)
    assert spec.generation() == "Zen 5, family 26 model 2 stepping 1"
    # 2 cores x 2.596 GHz x 16 lanes x 2 (FMA) x 2 FMA units
    assert peak_gflops_fp32(spec.simd, spec.ghz, 2) == 2 * 2.596098 * 16 * 2 * 2
    assert peak_gflops_fp32(["sse4_2"], 0.0, 2) is None  # clock unknown: no figure

"""The % of peak in benchmarks/deploy_speed.py: a peak no measurement can exceed, per precision."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))


def test_share_of_peak_refuses_more_than_the_peak():
    from gemm_peak import share_of_peak

    assert share_of_peak(2e9, 0.01, 400.0) == pytest.approx(0.5)  # 200 G/s of 400
    assert share_of_peak(4e9, 0.01, 400.0) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="194%.*the peak is wrong"):
        share_of_peak(3.88e9, 0.01, 200.0)  # the old report's 194%


def test_isa_peaks_follow_the_widest_unit_the_flags_show():
    from gemm_peak import isa_peaks

    amx = {"avx512f", "fma", "avx512_bf16", "amx_bf16", "avx512_vnni", "amx_int8"}
    p = isa_peaks(amx, cores=2, ghz=2.6)
    assert p["fp32"]["gops"] == pytest.approx(2 * 2.6 * 64)  # 2 FMA x 16 lanes x 2
    assert p["bf16"]["gops"] == pytest.approx(2 * 2.6 * 1024) and "AMX" in p["bf16"]["basis"]
    assert p["int8"]["gops"] == pytest.approx(2 * 2.6 * 2048)
    avx2 = isa_peaks({"fma", "avx2"}, cores=4, ghz=3.0)
    assert avx2["fp32"]["gops"] == pytest.approx(4 * 3.0 * 32) and set(avx2) == {"fp32"}
    vnni = isa_peaks({"avx512f", "avx512_vnni"}, cores=1, ghz=2.0)
    assert vnni["int8"]["gops"] == pytest.approx(512) and "VPDPBUSD" in vnni["int8"]["basis"]


def test_rows_use_their_own_precisions_peak():
    from gemm_peak import peak_for

    peaks = {"peak_gops": {"fp32": 300.0, "bf16": 5000.0, "int8": 10000.0}}
    assert peak_for("int8", peaks) == 10000.0 and peak_for("bf16", peaks) == 5000.0
    assert peak_for("fp32", peaks) == peak_for("fp16", peaks) == 300.0

"""ORT Mobile backend: .ort file plus the required-operators config for a minimal build."""

from __future__ import annotations

from backend_helpers import rows, tiny_run


def test_ort_file_and_required_operators_config():
    run_dir, report = tiny_run()
    for row in rows(report, target="mobile-ort"):
        bundle = run_dir / row["bundle"]
        assert (bundle / "model.ort").read_bytes()[4:8] == b"ORTM"  # flatbuffer identifier
        config = (bundle / "required_operators.config").read_text()
        lines = [line for line in config.splitlines() if line and not line.startswith("#")]
        assert lines and all(len(line.split(";")) == 3 for line in lines)
    [int8] = rows(report, model="teacher", target="mobile-ort", precision="int8")
    config = (run_dir / int8["bundle"] / "required_operators.config").read_text()
    assert "QLinearConv" in config or "QuantizeLinear" in config
    [fp32] = rows(report, model="teacher", target="mobile-ort", precision="fp32")
    assert "QLinearConv" not in (run_dir / fp32["bundle"] / "required_operators.config").read_text()

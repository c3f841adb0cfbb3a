"""Estimate bands and the delegated / not-delegated split as a reader sees them."""

from __future__ import annotations

from edgekd.records import Estimate, LatencySource, LayerProfile, LayerTime, Role, RowStatus
from edgekd.report.columns import band_text, cell, split_text
from edgekd.report.model import ReportRow

EST = dict(latency_ms=0.12, bound="fixed-cost", flops=1000, bytes=400, peak=1.0,
           memory_bandwidth_gbps=1.0)  # fmt: skip


def _row(estimate: Estimate) -> ReportRow:
    return ReportRow(model="s", role=Role.DISTILLED, target="jetson", runtime="tensorrt",
                     precision="fp32", status=RowStatus.ESTIMATED, estimate=estimate,
                     latency_source=LatencySource.ESTIMATED)  # fmt: skip


def test_every_estimated_figure_shows_its_band():
    est = Estimate(**EST, fixed_ms=0.11, layers=2, low_ms=0.04, high_ms=0.36, band_source="x")
    assert band_text(est) == " [0.0400–0.3600]"
    for key in ("p50_ms", "p90_ms", "p99_ms"):
        row = _row(est).model_copy(update={key: 0.12})
        assert cell(row, key, "{}") == "~0.1200 (est.) [0.0400–0.3600]"


def test_estimates_from_before_bands_render_and_serialise_as_before():
    old = Estimate(**EST)
    row = _row(old).model_copy(update={"p90_ms": 0.12})
    assert band_text(old) == "" and cell(row, "p90_ms", "{}") == "~0.1200 (est.)"
    assert set(old.model_dump(mode="json")) == set(EST) | {
        "compute_ms", "memory_ms", "size_bytes", "method", "spec_source"
    }  # fmt: skip


def test_markdown_names_the_fixed_costs_and_band():
    from edgekd.report.markdown import fixed_text

    est = Estimate(**EST, fixed_ms=0.11, layers=2, low_ms=0.04, high_ms=0.36, band_source="y")
    assert fixed_text(est) == (
        " Includes 0.1100 ms of fixed costs (2 layers); error band [0.0400–0.3600] ms (y)."
    )
    assert fixed_text(Estimate(**EST)) == ""


def test_layer_split_is_shown_where_a_runtime_gives_one():
    top = [LayerTime(name="conv", op_type="Convolution (XnnpackBackend)", mean_us=3, share=0.75)]
    prof = LayerProfile(tool="t", runs=2, nodes=2, total_us=4, top=top)
    assert split_text(prof) == "" and "split_us" not in prof.model_dump()
    split = prof.model_copy(update={"split_us": {"delegated": 3.0, "not delegated": 1.0}})
    assert split_text(split) == "; delegated 3.0 us (75%), not delegated 1.0 us (25%)"

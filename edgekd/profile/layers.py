"""Per-layer profiles summarised the same way for every runtime: the ten slowest ops.

Each backend reads its runtime's own counters (`Backend.layer_profile`) into per-node times
per run; this module turns those into a `LayerProfile`. Profiling adds overhead, so backends
run it in its own session after the latency measurement, and its times are only compared with
each other.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable

from edgekd.records import LayerProfile, LayerTime

TOP_N = 10
NodeKey = tuple[str, str]  # (node name, op type)


def per_run_totals(runs: int, events: Iterable[tuple[int, NodeKey, float]]) -> dict[NodeKey, float]:
    """Time (us) per node as runs x its per-run median, from (run index, node, us) events:
    one preempted run on a shared CPU does not skew a node."""
    per_run: dict[NodeKey, list[float]] = defaultdict(lambda: [0.0] * runs)
    for i, key, us in events:
        per_run[key][i] += us
    return {k: statistics.median(v) * runs for k, v in per_run.items()}


def summarize_nodes(per_node: dict[NodeKey, float], runs: int, tool: str) -> LayerProfile:
    """Mean time per run of each (node, op type), the slowest TOP_N with their share."""
    total = sum(per_node.values())
    ranked = sorted(per_node.items(), key=lambda kv: kv[1], reverse=True)[:TOP_N]
    top = [
        LayerTime(name=name, op_type=op, mean_us=us / runs, share=us / total if total else 0.0)
        for (name, op), us in ranked
    ]
    return LayerProfile(tool=tool, runs=runs, nodes=len(per_node), total_us=total / runs, top=top)

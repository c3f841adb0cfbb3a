"""ExecuTorch per-operator profile from ETDump, in the table every runtime shares.

The program is loaded with the runtime's event tracer on (`enable_etdump=True`), run, and
the ETDump it writes is read with executorch.devtools' ETDump deserializer: per run, one
event per top-level instruction (OPERATOR_CALL: a kernel outside any delegate, DELEGATE_CALL:
one XNNPACK subgraph) and, inside each delegate call, one event per XNNPACK operator.
Instruction ids are named from the .pte itself (its operator and delegate tables), so no
ETRecord has to ship in the bundle.

Each delegate call is split into its operators and the rest of the call ("outside its ops":
input/output binding, reshape and the profiler's own read-out), so shares add up to the
time of all instructions. XNNPACK times its operators in whole microseconds; their per-run
mean is used (a median would round most sub-microsecond ops to 0), the per-run median for
everything else, as for the other runtimes.
"""

from __future__ import annotations

import statistics
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from edgekd.records import LayerProfile

TOOL = "executorch ETDump"
NOT_DELEGATED = "not delegated"


def program_names(pte: Path) -> dict[int, tuple[str, str]]:
    """Instruction id -> ("kernel", "aten::op.overload") or ("delegate", backend id)."""
    from executorch.exir._serialize._program import deserialize_pte_binary

    pte_file = deserialize_pte_binary(pte.read_bytes())
    plan = getattr(pte_file, "program", pte_file).execution_plan[0]
    names = {}
    for i, instr in enumerate(plan.chains[0].instructions):
        args = instr.instr_args
        if hasattr(args, "op_index"):
            op = plan.operators[args.op_index]
            names[i] = ("kernel", op.name + (f".{op.overload}" if op.overload else ""))
        elif hasattr(args, "delegate_index"):
            names[i] = ("delegate", plan.delegates[args.delegate_index].id)
    return names


def record_etdump(program, sample: np.ndarray, runs: int) -> bytes:
    """One warm-up and `runs` timed calls of a program loaded with `enable_etdump=True`;
    the ETDump bytes."""
    import torch

    method = program.load_method("forward")
    x = torch.from_numpy(np.ascontiguousarray(sample))
    for _ in range(runs + 1):
        method.execute([x])
    with tempfile.TemporaryDirectory(prefix="edgekd-etdump-") as tmp:
        path = Path(tmp) / "model.etdp"
        program.write_etdump_result_to_file(str(path), str(Path(tmp) / "debug.bin"))
        return path.read_bytes()


def run_events(etdump: bytes) -> list[list]:
    """The profile events of each `Method::execute` run, in order."""
    from executorch.devtools.etdump.serialize import deserialize_from_etdump_flatcc

    runs = []
    for run in deserialize_from_etdump_flatcc(etdump).run_data:
        events = [e.profile_event for e in run.events or [] if e.profile_event is not None]
        if any(e.name == "Method::execute" for e in events):
            runs.append(events)
    return runs


def node_times(runs: list[list], names: dict[int, tuple[str, str]]):
    """{(node, op type): [us per run]} and whether each node's timer counts whole us."""
    times: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0] * len(runs))
    coarse: set[tuple[str, str]] = set()
    for r, events in enumerate(runs):
        inside: dict[int, float] = defaultdict(float)  # delegate instruction -> its ops' us
        calls: dict[int, float] = {}
        for e in events:
            us = (e.end_time - e.start_time) / 1e3
            kind, what = names.get(e.instruction_id, ("?", "?"))
            if e.delegate_debug_id_str:  # an operator inside a delegate call
                op_type = e.delegate_debug_id_str.rsplit(" #", 1)[0]
                key = (f"{e.delegate_debug_id_str} @{e.instruction_id}", f"{op_type} ({what})")
                times[key][r] += us
                coarse.add(key)
                inside[e.instruction_id] += us
            elif e.name == "DELEGATE_CALL":
                calls[e.instruction_id] = us
            elif e.name == "OPERATOR_CALL":
                times[(f"{what} @{e.instruction_id}", f"{what} ({NOT_DELEGATED})")][r] += us
        for i, us in calls.items():
            rest = (f"{names.get(i, ('', '?'))[1]} call @{i}, outside its ops", "delegate glue")
            times[rest][r] += max(us - inside[i], 0.0)
    return times, coarse


def summarize(times, coarse, runs: int) -> LayerProfile:
    """Per-run mean (coarse timers) or median, the top ops, and the delegated share."""
    from edgekd.profile.layers import summarize_nodes

    per_node = {
        k: (statistics.fmean(v) if k in coarse else statistics.median(v)) * runs
        for k, v in times.items()
    }
    split: dict[str, float] = defaultdict(float)
    for (_, op_type), us in per_node.items():
        where = NOT_DELEGATED if op_type.endswith(f"({NOT_DELEGATED})") else "delegated"
        split[where] += us / runs
    profile = summarize_nodes(per_node, runs, f"{TOOL} (XNNPACK op times in whole us)")
    return profile.model_copy(update={"split_us": dict(split)})


def etdump_layer_profile(program, pte: Path, sample: np.ndarray, runs: int) -> LayerProfile:
    """The slowest operators of a .pte (`program`: it, loaded with the event tracer on) and
    its delegated / not-delegated time per run."""
    events = run_events(record_etdump(program, sample, runs))[-runs:]
    times, coarse = node_times(events, program_names(pte))
    return summarize(times, coarse, len(events))

"""Accuracy-budgeted mixed precision: per-layer int8 sensitivity on the validation split,
then the most sensitive layers kept in float, fewest first, until the gate holds there.

`keep_in_float` scores candidates on whatever labels it is given; the recovery stage
(edgekd.stages.qat.run_mixed) gives it the fp32 student's own predictions, so a score is
top-1 agreement with fp32 and the sensitivity of a layer is the agreement gained by keeping
that one layer in float while every other layer is int8 (the layer-wise analysis of ModelOpt
and ORT's debugging tools); ties keep the graph order.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from edgekd.errors import ArtifactError
from edgekd.quant import NotKeepable
from edgekd.quant.qatkd import predictions, val_accuracy


def keep_in_float(
    path, model, onnx_path: Path, calib, val, floor: float, max_float: int, out_dir: Path
) -> tuple[dict, list[str], list[dict], dict]:
    """Write into `out_dir` the int8 artifact with the fewest layers kept in float (most
    sensitive first) that keeps `floor` accuracy on `val`, or the one with `max_float` layers
    in float when none does; returns (its compile info, those layers, every try, gains)."""
    xv, yv = val
    trail: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="edgekd-mixed-") as tmp:
        done: dict[tuple, tuple] = {}  # a single layer's try is the first cumulative one

        def attempt(keep: list[str]):
            if tuple(keep) not in done:
                done[tuple(keep)] = build(keep)
            return done[tuple(keep)]

        def build(keep: list[str]):
            work = Path(tmp) / str(len(trail))
            work.mkdir()
            try:
                cand = path.candidate(model, onnx_path, calib, keep, work)
            except NotKeepable as exc:  # the runtime cannot keep this set in float
                trail.append({"float_layers": list(keep), "val_acc": None, "error": str(exc)})
                return None, None
            trail.append({"float_layers": list(keep), "val_acc": val_accuracy(cand.logits, xv, yv)})
            return cand, trail[-1]["val_acc"]

        best, base = attempt([])
        if best is None:
            raise ArtifactError(f"int8 mixed precision: {trail[0]['error']}")
        kept: list[str] = []
        gains: dict[str, float] = {}
        if base < floor:
            layers = path.layers(model, onnx_path)
            alone = {name: attempt([name])[1] for name in layers}
            gains = {name: a - base for name, a in alone.items() if a is not None}
            order = sorted(gains, key=lambda n: -gains[n])  # stable: graph order on ties
            for name in order:  # one more layer at a time, skipping what cannot stay float
                if len(kept) >= max_float:
                    break
                cand, a = attempt([*kept, name])
                if cand is None:
                    continue
                best, kept = cand, [*kept, name]
                if a >= floor:
                    break
        return best.write(out_dir), kept, trail, gains


def mixed_info(kept: list[str], trail: list[dict], gains: dict, floor: float, fp32: float):
    """The stage record: `floor` is the agreement with the fp32 student that was asked for,
    `val_agreement` what the kept artifact reached (trail entries: `val_acc` is agreement)."""
    reached = next((t["val_acc"] for t in trail if t["float_layers"] == kept), None)
    return {
        "float_layers": kept,
        "agreement_floor": floor,
        "val_acc_fp32": fp32,
        "val_agreement": reached,
        "passed_on_val": reached is not None and reached >= floor,
        "sensitivity": {k: round(v, 6) for k, v in gains.items()},
        "tried": trail,
    }


def fp32_val_predictions(model, val) -> np.ndarray:
    """The fp32 student's top-1 class for every validation sample (the labels the int8
    candidates are scored against: their agreement with it)."""
    import torch

    def logits(x):
        with torch.no_grad():
            return model(torch.from_numpy(x)).numpy()

    return predictions(logits, np.asarray(val[0]))

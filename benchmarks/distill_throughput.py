"""Distillation throughput (samples/s): edgekd's trainer vs a minimal hand-written PyTorch KD
loop on the same teacher, student, data, batch and threads; and edgekd with the
teacher-output cache. Same number of epochs each; the median over `repeats` runs."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from _common import write_result

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from edgekd.config.load import load_pipeline  # noqa: E402
from edgekd.config.schema import DistillConfig, LossSpec, StudentConfig, TrainConfig  # noqa: E402
from edgekd.data import Splits  # noqa: E402
from edgekd.models import build_model  # noqa: E402
from edgekd.progress import Reporter  # noqa: E402
from edgekd.stages import data as stages_data  # noqa: E402
from edgekd.stages import train as stages_train  # noqa: E402

EPOCHS, BATCH, T = 5, 64, 4.0


def hand_written(teacher, student, x, y, epochs: int) -> float:
    """The loop a user would write: teacher forward per batch, KL on softened logits."""
    opt = torch.optim.AdamW(student.parameters(), lr=3e-3, weight_decay=0.01)
    xt, yt = torch.as_tensor(np.asarray(x)), torch.as_tensor(y)  # the split, in memory
    start = time.perf_counter()
    for epoch in range(epochs):
        student.train()
        perm = torch.randperm(len(xt), generator=torch.Generator().manual_seed(epoch))
        for i in range(0, len(xt), BATCH):
            idx = perm[i : i + BATCH]
            xb, _yb = xt[idx], yt[idx]
            with torch.no_grad():
                t_logits = teacher(xb)
            s_logits = student(xb)
            loss = (
                F.kl_div(
                    F.log_softmax(s_logits / T, 1),
                    F.log_softmax(t_logits / T, 1),
                    reduction="batchmean",
                    log_target=True,
                )
                * T
                * T
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return epochs * len(xt) / (time.perf_counter() - start)


def edgekd_trainer(teacher, splits, student_cfg, seed: int, extra: dict) -> float:
    distill = DistillConfig(
        ce_weight=0.0, losses=[LossSpec(name="kd", options={"temperature": T})], **extra
    )
    cfg = student_cfg.model_copy(update={"distill": distill})
    start = time.perf_counter()
    stages_train.run_distill(
        cfg, [teacher], splits, seed, Path(tempfile.mkdtemp()), "bench", Reporter(quiet=True)
    )
    return EPOCHS * len(splits.x["train"]) / (time.perf_counter() - start)


def main(repeats: int = 3, threads: int = 2) -> dict:
    torch.set_num_threads(threads)
    pipe = load_pipeline(REPO / "pipelines" / "quickstart.yaml")
    folder = Path(tempfile.mkdtemp())
    splits = Splits.load(folder, stages_data.run_data(pipe, folder))
    teacher = build_model(pipe.teacher.model, pipe.teacher.options, splits.input_shape, 10).eval()
    s = pipe.students[0]
    student_cfg = StudentConfig(
        name="s",
        model=s.model,
        options=s.options,
        train=TrainConfig(
            epochs=EPOCHS, batch_size=BATCH, lr=3e-3, optimizer="adamw", weight_decay=0.01
        ),
    )
    variants = {
        "hand_written": lambda: hand_written(
            teacher,
            build_model(s.model, s.options, splits.input_shape, 10),
            splits.x["train"],
            splits.y["train"],
            EPOCHS,
        ),
        "edgekd_no_cache": lambda: edgekd_trainer(
            teacher, splits, student_cfg, 0, {"cache_teacher_outputs": "off"}
        ),
        "edgekd_cache": lambda: edgekd_trainer(
            teacher, splits, student_cfg, 0, {"cache_teacher_outputs": "on"}
        ),
    }
    runs = {k: [] for k in variants}
    for _ in range(repeats):  # interleaved, so drift hits every variant alike
        for name, fn in variants.items():
            runs[name].append(fn())
    med = {k: statistics.median(v) for k, v in runs.items()}
    result = {
        "threads": threads,
        "epochs": EPOCHS,
        "batch": BATCH,
        "repeats": repeats,
        "samples_per_s": med,
        "all_runs": runs,
        "overhead_vs_hand_written": med["hand_written"] / med["edgekd_no_cache"] - 1,
        "cache_speedup": med["edgekd_cache"] / med["edgekd_no_cache"],
        "torchdistill": torchdistill_note(),
    }
    for k, v in med.items():
        print(f"{k}: {v:,.0f} samples/s")
    print(f"edgekd overhead vs hand-written: {result['overhead_vs_hand_written']:+.1%}")
    print(f"teacher-output cache speed-up: {result['cache_speedup']:.2f}x")
    write_result("distill_throughput", result)
    return result


def torchdistill_note() -> str:
    try:
        import torchdistill  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any import failure is the finding
        return (
            f"not measured: torchdistill cannot be imported here ({type(exc).__name__}). "
            "It requires torchvision>=0.27, and PyPI's torchvision fails to import beside "
            "the CPU build of torch 2.13.0 used here."
        )
    return "installed, but not wired into this benchmark"


if __name__ == "__main__":
    main()

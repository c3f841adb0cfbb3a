"""Exercise edgekd's GPU paths on a machine with CUDA, and print what ran.

edgekd's CI has no GPU, so these paths (edgekd/distill/hardware.py, the NCCL branch of
edgekd/distill/distributed.py) are written against torch's documented APIs but untested
there. Run this on a GPU machine (`.venv/bin/python benchmarks/gpu_check.py`); it checks:

1. `Hardware("cuda:0")`: a batch moved to the GPU, 4-D in channels-last; a model moved
   (channels-last) and `fit` returning it on the CPU; `predict_logits` on the GPU.
2. `edgekd run` of a tiny pipeline (digits as 3x16x16 images, resnet teacher, mlp and
   resnet students) with `device: cuda` and `amp: off | bf16 | fp16` (fp16 uses a
   GradScaler); each training stage must record its device and finish with finite weights.
3. DDP on NCCL: with 2+ GPUs, `edgekd run --nproc 2` on device cuda; with one GPU, a
   one-process group on the "cpu:gloo,cuda:nccl" backend edgekd uses (a DDP step, a CPU
   and a CUDA all-reduce, an object broadcast).

Exit code 0 when everything that could run passed; each check prints PASS, FAIL or SKIP.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

import torch
import yaml

RESULTS: list[tuple[str, str, str]] = []

PIPELINE = {
    "name": "gpu-check",
    "seed": 0,
    "device": "cuda",
    "amp": "off",
    "data": {"dataset": "digits", "options": {"size": 16, "channels": 3}, "calib_size": 32},
    "teacher": {
        "model": "resnet",
        "options": {"depth": 8, "width": 8},
        "train": {"epochs": 2, "batch_size": 64, "lr": 0.01},
    },
    "students": [
        {
            "name": "mlp-s",
            "model": "mlp",
            "options": {"hidden": [32]},
            "train": {"epochs": 2, "batch_size": 64, "lr": 0.01},
            "distill": {"losses": [{"name": "kd"}]},
        },
        {
            "name": "res-s",
            "model": "resnet",
            "options": {"depth": 8, "width": 4},
            "train": {"epochs": 2, "batch_size": 64, "lr": 0.01},
            "baseline": False,
            "distill": {
                "losses": [
                    {"name": "kd"},
                    {
                        "name": "at",
                        "options": {"student_layers": ["layer3"], "teacher_layers": ["layer3"]},
                    },
                ]
            },
        },
    ],
    "targets": [],
}


def check(name: str):
    def deco(fn):
        def run(*args):
            try:
                detail = fn(*args) or ""
                RESULTS.append((name, "PASS", detail))
            except Skip as exc:
                RESULTS.append((name, "SKIP", str(exc)))
            except Exception as exc:  # noqa: BLE001  report every failure, keep going
                traceback.print_exc()
                RESULTS.append((name, "FAIL", f"{type(exc).__name__}: {exc}"))
            print(f"{RESULTS[-1][1]:4}  {name}  {RESULTS[-1][2]}", flush=True)

        return run

    return deco


class Skip(Exception):
    pass


@check("hardware: batches, channels-last, fit, predict on cuda:0")
def hardware_api() -> str:
    from edgekd.config.schema import TrainConfig
    from edgekd.distill.hardware import resolve_hardware
    from edgekd.distill.trainer import fit, predict_logits
    from edgekd.models import build_model
    from edgekd.progress import Reporter

    hw = resolve_hardware("cuda", "bf16")
    x = hw.batch(torch.randn(4, 3, 8, 8))
    assert x.is_cuda and x.is_contiguous(memory_format=torch.channels_last)
    model = build_model("resnet", {"depth": 8, "width": 4}, (3, 8, 8), 3)
    data = torch.randn(64, 3, 8, 8).numpy()
    labels = (torch.arange(64) % 3).numpy()
    loss = torch.nn.CrossEntropyLoss()
    with tempfile.TemporaryDirectory() as work:
        fit(
            model, lambda _i, xb, yb: loss(model(xb), yb), model, data, labels, None,
            TrainConfig(epochs=1, batch_size=16), 0, Path(work), "gpu", Reporter(True), hw=hw,
        )  # fmt: skip
    assert next(model.parameters()).device.type == "cpu", "fit returns the model on the CPU"
    hw.model(model, 4)
    out = predict_logits(model, data, hw=hw)
    assert out.shape == (64, 3) and torch.isfinite(out).all()
    return f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}"


def run_pipeline(folder: Path, amp: str, nproc: int = 1) -> dict:
    cfg = json.loads(json.dumps(PIPELINE)) | {"amp": amp}
    path = folder / f"gpu-{amp}-{nproc}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    cmd = [sys.executable, "-m", "edgekd", "run", str(path), "--out", str(folder / path.stem)]
    if nproc > 1:
        cmd += ["--nproc", str(nproc)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-1500:])
    infos = {}
    for record in (folder / path.stem / "stages").glob("*/stage.json"):
        rec = json.loads(record.read_text())
        if rec["kind"] in ("train", "distill"):
            infos[rec["label"]] = rec["info"]
    return infos


def pipeline_check(amp: str):
    @check(f"edgekd run with device: cuda, amp: {amp}")
    def run(folder: Path) -> str:
        infos = run_pipeline(folder, amp)
        for label, info in infos.items():
            assert info.get("device") == {"device": "cuda", "amp": amp}, (label, info)
        return ", ".join(f"{k} acc {v['acc_test']:.3f}" for k, v in sorted(infos.items()))

    return run


@check("DDP on NCCL")
def ddp(folder: Path) -> str:
    if torch.cuda.device_count() >= 2:
        infos = run_pipeline(folder, "off", nproc=2)
        return "edgekd run --nproc 2: " + ", ".join(sorted(infos))
    return ddp_one_process()


def ddp_one_process() -> str:
    """One rank on the backend edgekd picks for CUDA: NCCL gradients, gloo on the CPU."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT="29511", RANK="0", WORLD_SIZE="1")
    torch.cuda.set_device(0)
    dist.init_process_group("cpu:gloo,cuda:nccl", rank=0, world_size=1)
    try:
        model = DistributedDataParallel(torch.nn.Linear(4, 2).cuda(), device_ids=[0])
        model(torch.randn(8, 4, device="cuda")).sum().backward()
        cpu, gpu = torch.ones(2, dtype=torch.float64), torch.ones(2, device="cuda")
        dist.all_reduce(cpu)
        dist.all_reduce(gpu)
        box = [{"ok": True}]
        dist.broadcast_object_list(box, src=0)
        assert box[0]["ok"] and float(cpu.sum()) == 2 and float(gpu.sum()) == 2
    finally:
        dist.destroy_process_group()
    return "one GPU: a one-process group on cpu:gloo,cuda:nccl (run on 2+ GPUs for --nproc 2)"


def main() -> int:
    if not torch.cuda.is_available():
        print("SKIP  everything: torch sees no CUDA device here")
        return 0
    hardware_api()
    with tempfile.TemporaryDirectory() as tmp:
        for amp in ("off", "bf16", "fp16"):
            pipeline_check(amp)(Path(tmp))
        ddp(Path(tmp))
    failed = [r for r in RESULTS if r[1] == "FAIL"]
    print(f"\n{len(RESULTS) - len(failed)} of {len(RESULTS)} checks passed or skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

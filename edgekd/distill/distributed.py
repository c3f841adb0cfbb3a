"""Distributed training on torch.distributed: DDP under torchrun, rank-0-only writes.

`edgekd run PIPELINE --nproc N` re-runs the same command under `torch.distributed.run`;
`torchrun --nproc-per-node N -m edgekd run PIPELINE` does the same by hand (and spans nodes,
see docs/scale.md). Every rank trains each training stage together: rank r takes rows
r, r+W, r+2W, ... of every seeded global batch (what DistributedSampler does per epoch), DDP
averages the gradients, and the loss is scaled so that the update equals the single-process
update on the whole global batch. Only rank 0 writes stage folders, checkpoints and the report;
the other ranks train in a scratch folder and leave once training is done. Every
distillation scheme runs this way except those with `distributed = False` (adversarial),
which `refuse_distributed` refuses when the pipeline is loaded on several processes.

On the CPU the process group uses gloo; with `device:` on CUDA it is "cpu:gloo,cuda:nccl"
(NCCL for the gradients, gloo for the small CPU collectives: loss sums, RNG states,
broadcasts) and each rank trains on GPU LOCAL_RANK (EDGEKD_DIST_BACKEND overrides the
choice). The NCCL path follows torch's documented API but has not run in edgekd's CI, which
has no GPU; benchmarks/gpu_check.py runs it on a GPU machine.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

TRAINING_KINDS = ("train", "distill")


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


_current = Dist()


def current() -> Dist:
    return _current


def init_from_env(device_type: str = "cpu") -> Dist:
    """Join the process group torchrun describes in the environment; a no-op otherwise."""
    global _current
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or _current.active:
        return _current
    import torch.distributed as dist

    backend = os.environ.get("EDGEKD_DIST_BACKEND")
    if device_type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        backend = backend or "cpu:gloo,cuda:nccl"
    dist.init_process_group(backend=backend or "gloo")
    _current = Dist(dist.get_rank(), dist.get_world_size())
    return _current


def shutdown() -> None:
    """Leave the process group (every rank calls this once training is over)."""
    global _current
    if _current.active:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
        _current = Dist()


def broadcast(obj):
    """Rank 0's `obj` on every rank (a no-op in one process)."""
    if not _current.active:
        return obj
    import torch.distributed as dist

    box = [obj]
    try:
        dist.broadcast_object_list(box, src=0)
    except RuntimeError:  # rank 0 stopped (it printed why): leave quietly
        if _current.is_main:
            raise
        raise SystemExit(2) from None
    return box[0]


def run_stage(store, kind: str, label: str, config, inputs: dict, fn: Callable[[Path], dict]):
    """StageStore.run for every rank: rank 0 decides, writes and tells the others the result.

    Training stages run on every rank (they meet in DDP's all-reduce); the other ranks write
    into a scratch folder that is thrown away. Other stages run on rank 0 only.
    """
    d = current()
    if not d.active:
        return store.run(kind, label, config, inputs, fn)
    hit = broadcast(store.cached(kind, label, config, inputs) if d.is_main else None)
    if hit is not None:
        return hit
    if d.is_main:
        result = store.run(kind, label, config, inputs, fn)
    elif kind in TRAINING_KINDS:
        scratch = store.root / f".scratch-rank{d.rank}-{label}"  # removed on the next start
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        fn(scratch)
        shutil.rmtree(scratch, ignore_errors=True)
        result = None
    else:
        result = None
    return broadcast(result)


def launched_world() -> int:
    """Processes this command runs on: torchrun's WORLD_SIZE (1 without torchrun). Known
    before the process group exists, so a pipeline can be refused when it is loaded."""
    return max(int(os.environ.get("WORLD_SIZE", "1")), _current.world)


def refuse_distributed(scheme: str, where: str, why: str) -> None:
    """Refuse, with a ConfigError that says why, a scheme that cannot train under DDP when
    this command runs on several processes; docs/scale.md lists which schemes run."""
    if launched_world() > 1:
        from edgekd.errors import ConfigError

        raise ConfigError(
            f"{where}: scheme '{scheme}' does not run on several processes (--nproc, "
            f"torchrun): {why}. Run this pipeline in one process (without --nproc); "
            "docs/scale.md lists the schemes that run under DDP."
        )


# ---------------------------------------------------------------- used by trainer.fit


class _Step(nn.Module):
    """Makes `batch_loss` the forward of a module, so DDP sees the forward and backward."""

    def __init__(self, trainable: nn.Module, batch_loss: Callable):
        super().__init__()
        self.trainable = trainable
        self.batch_loss = batch_loss

    def forward(self, idx, xb, yb):
        return self.batch_loss(idx, xb, yb)


def wrap_step(trainable: nn.Module, batch_loss: Callable, device: str = "cpu") -> Callable:
    """`batch_loss` itself in one process; under DDP, the same call through a DDP module
    (on CUDA, bound to this rank's GPU)."""
    if not _current.active:
        return batch_loss
    from torch.nn.parallel import DistributedDataParallel

    ids = [torch.device(device).index] if device.startswith("cuda") else None
    return DistributedDataParallel(_Step(trainable, batch_loss), device_ids=ids, static_graph=True)


def min_batch() -> int:
    """Smallest global batch trained on: every rank needs two rows (BatchNorm)."""
    return 2 * _current.world


def shard(idx: torch.Tensor) -> torch.Tensor:
    """This rank's rows of a global batch: idx[rank::world], as DistributedSampler deals them."""
    return idx[_current.rank :: _current.world] if _current.active else idx


def scale(loss: torch.Tensor, n_local: int, n_global: int) -> torch.Tensor:
    """Scale a per-rank mean loss so DDP's gradient average is the global-batch gradient."""
    if not _current.active:
        return loss
    return loss * (n_local * _current.world / n_global)


def all_sum(*values: float) -> tuple[float, ...]:
    if not _current.active:
        return values
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t)
    return tuple(t.tolist())


def load_resume(path: Path) -> dict | None:
    """The resume checkpoint (read by rank 0 and sent to all ranks), or None."""
    state = None
    if _current.is_main and Path(path).is_file():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # cut short by a power loss or a full disk: start over
            print(
                f"warning: unreadable resume checkpoint '{path}' ({type(exc).__name__}); "
                "training this stage from the start.",
                file=sys.stderr,
            )
            Path(path).unlink()
    return broadcast(state)


def all_gather(obj) -> list:
    """Every rank's `obj` (picklable), in rank order; `[obj]` in one process."""
    if not _current.active:
        return [obj]
    import torch.distributed as dist

    out: list = [None] * _current.world
    dist.all_gather_object(out, obj)
    return out


def rng_states() -> list[torch.Tensor]:
    """Every rank's torch RNG state (rank order), so a resumed run redraws the same dropout."""
    return all_gather(torch.get_rng_state())


def my_rng(state: dict) -> torch.Tensor:
    states = state.get("rng_ranks") or [state["rng"]]
    return states[_current.rank] if len(states) == _current.world else state["rng"]


# ---------------------------------------------------------------- launching


def launch(nproc: int, argv: list[str]) -> int:
    """Run `python -m edgekd ARGV` on `nproc` local processes, as `torchrun --standalone`.

    Returns the exit code of the first rank that failed (2 for a user error, whose message
    that rank printed), so a failed worker is not reported a second time as a traceback.
    """
    import logging
    import uuid

    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=nproc,
        run_id=str(uuid.uuid4()),
        rdzv_backend="c10d",
        rdzv_endpoint="localhost:0",
        max_restarts=0,
    )
    try:
        elastic_launch(config, sys.executable)("-m", "edgekd", *argv)
    except ChildFailedError as exc:
        _, failure = exc.get_first_failure()
        return failure.exitcode if failure.exitcode > 0 else 1
    return 0


def strip_nproc(argv: list[str]) -> list[str]:
    """The command line without its --nproc option, for the workers."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out

"""Stateful losses under torch.distributed (2 gloo processes): CRD's memory banks get every
rank's updates and stay identical; DKD's warm-up counts the samples of all ranks."""

from __future__ import annotations

import torch
import torch.multiprocessing as mp
from losslib import build

from edgekd.distill.losses import LossContext, Outputs

WORLD = 2
CRD_OPTIONS = {"student_layer": "s", "teacher_layer": "t", "nce_k": 8, "feat_dim": 4}
CTX = LossContext(5, 20, {"s": (3,)}, {"t": (6,)})


def shard(rank: int, n: int, start: int) -> Outputs:
    g = torch.Generator().manual_seed(rank + 1)
    logits = torch.randn(n, 5, generator=g), torch.randn(n, 5, generator=g)
    feats = {"s": torch.randn(n, 3, generator=g)}, {"t": torch.randn(n, 6, generator=g)}
    y = torch.randint(0, 5, (n,), generator=g)
    return Outputs(torch.zeros(n), y, *logits, *feats, index=torch.arange(start, start + n))


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    torch.manual_seed(0)
    crd = build("crd", CRD_OPTIONS, CTX)
    crd(shard(rank, 3 if rank == 0 else 2, 10 * rank))  # uneven shards, as at an epoch's end
    dkd = build("dkd", {"warmup": 1.0}, LossContext(5, 100))
    dkd(shard(rank, 4, 0))
    torch.save(
        {"memory_s": crd.memory_s, "memory_t": crd.memory_t, "seen": dkd.seen},
        f"{out_dir}/rank{rank}.pt",
    )
    dist.destroy_process_group()


def test_stateful_losses_agree_across_ranks(tmp_path):
    mp.spawn(_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD))
    torch.manual_seed(0)
    fresh = build("crd", CRD_OPTIONS, CTX)
    for bank in ("memory_s", "memory_t"):
        assert torch.equal(r0[bank], r1[bank])
        changed = (r0[bank] != getattr(fresh, bank)).any(1).nonzero().flatten().tolist()
        assert changed == [0, 1, 2, 10, 11]
    assert float(r0["seen"]) == float(r1["seen"]) == 8.0

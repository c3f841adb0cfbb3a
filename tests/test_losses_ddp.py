"""Losses under torch.distributed (2 gloo processes on the CPU).

Stateful losses: CRD's memory banks (and their labels) get every rank's updates and stay
identical; DKD's fallback warm-up counts the samples of all ranks.

Relation losses: RKD, PKT, SP, DIST's per-class term and CRD's normaliser Z relate the
samples of a batch, so each rank gathers the global batch. With the trainer's scaling (each
rank's loss times n_rank * W / n_global, then DDP's gradient average), the value and the
gradients equal a single process's on the whole batch.
"""

from __future__ import annotations

import pytest
import torch
import torch.multiprocessing as mp
from losslib import build
from torch import nn

from edgekd.distill.losses import LossContext, Outputs

WORLD = 2
CRD_OPTIONS = {"student_layer": "s", "teacher_layer": "t", "nce_k": 8, "feat_dim": 4}
CTX = LossContext(5, 20, {"s": (3,)}, {"t": (6,)})
# The global batch of the gather tests: 5 rows, rank r takes rows r, r + 2, ... (the trainer's
# sharding), so rank 0 holds 3 rows and rank 1 holds 2.
N_GLOBAL = 5
GATHERED = {  # loss -> options; "s"/"t" are (N, 5) student / (N, 6) teacher features
    "rkd": {"student_layer": "s", "teacher_layer": "t"},
    "pkt": {"student_layer": "s", "teacher_layer": "t"},
    "sp": {"student_layer": "s", "teacher_layer": "t"},
    "dist": {"beta": 1.0, "gamma": 2.0, "tau": 2.0},
    "crd": {"student_layer": "s", "teacher_layer": "t", "nce_k": 6, "feat_dim": 4},
}
GATHER_CTX = LossContext(5, 20, {"s": (5,)}, {"t": (6,)})


def shard(rank: int, n: int, start: int) -> Outputs:
    g = torch.Generator().manual_seed(rank + 1)
    logits = torch.randn(n, 5, generator=g), torch.randn(n, 5, generator=g)
    feats = {"s": torch.randn(n, 3, generator=g)}, {"t": torch.randn(n, 6, generator=g)}
    y = torch.randint(0, 5, (n,), generator=g)
    return Outputs(torch.zeros(n), y, *logits, *feats, index=torch.arange(start, start + n))


def global_batch() -> dict[str, torch.Tensor]:
    """Inputs of a float64 student (a linear layer) and teacher outputs, and fixed negatives."""
    g = torch.Generator().manual_seed(7)
    return {
        "x": torch.randn(N_GLOBAL, 4, generator=g, dtype=torch.float64),
        "t": torch.randn(N_GLOBAL, 6, generator=g, dtype=torch.float64),
        "t_logits": torch.randn(N_GLOBAL, 5, generator=g, dtype=torch.float64),
        "y": torch.tensor([0, 1, 1, 3, 0]),
        "index": torch.tensor([4, 11, 0, 17, 9]),
        "contrast": torch.randint(0, 20, (N_GLOBAL, 7), generator=g),
    }


def run_gathered(name: str, rows: slice) -> tuple[float, int, dict[str, torch.Tensor], nn.Module]:
    """The loss on `rows` of the global batch: its value, the number of rows, and the
    gradients of the student layer and the loss's own parameters after the trainer's
    per-rank scaling (and, under DDP, the average over ranks that DDP makes)."""
    import torch.distributed as dist

    b = global_batch()
    torch.manual_seed(0)  # the same student layer and loss parameters on every rank
    student = nn.Linear(4, 5).double()
    loss = build(name, GATHERED[name], GATHER_CTX).double()
    b["contrast"][:, 0] = b["index"]
    if name == "crd":  # the same negatives as the single process: only Z's batch differs
        loss.sample_contrast = lambda index, y: b["contrast"][rows]
    s = student(b["x"][rows])
    out = Outputs(b["x"][rows], b["y"][rows], s, b["t_logits"][rows], {"s": s}, {"t": b["t"][rows]})
    out.index = b["index"][rows]
    value = loss(out)
    n_local = len(out.y)
    world = dist.get_world_size() if dist.is_initialized() else 1
    (value * n_local * world / N_GLOBAL).backward()  # distributed.scale, as the trainer does
    grads = {}
    for pname, p in [*student.named_parameters(), *loss.named_parameters()]:
        if world > 1:
            dist.all_reduce(p.grad)
            p.grad /= world  # what DDP does
        grads[pname] = p.grad
    return float(value.detach()), n_local, grads, loss


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    torch.manual_seed(0)
    crd = build("crd", CRD_OPTIONS, CTX)
    out = shard(rank, 3 if rank == 0 else 2, 10 * rank)  # uneven shards, as at an epoch's end
    crd(out)
    dkd = build("dkd", {"warmup": 1.0}, LossContext(5, 100))
    dkd(shard(rank, 4, 0))
    result = {"memory_s": crd.memory_s, "memory_t": crd.memory_t, "labels": crd.labels}
    result |= {"seen": dkd.seen, "y": out.y}
    for name in GATHERED:
        value, n_local, grads, loss = run_gathered(name, slice(rank, None, WORLD))
        result[name] = {"value": value, "n": n_local, "grads": grads}
        if name == "crd":
            result[name] |= {"z_s": loss.z_s, "z_t": loss.z_t}
    torch.save(result, f"{out_dir}/rank{rank}.pt")
    dist.destroy_process_group()


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """Both ranks' results, from one 2-process run (starting processes is the slow part)."""
    tmp = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(str(tmp / "init"), str(tmp)), nprocs=WORLD, join=True)
    return [torch.load(tmp / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]


def test_stateful_losses_agree_across_ranks(ranks):
    r0, r1 = ranks
    torch.manual_seed(0)
    fresh = build("crd", CRD_OPTIONS, CTX)
    for bank in ("memory_s", "memory_t"):
        assert torch.equal(r0[bank], r1[bank])
        changed = (r0[bank] != getattr(fresh, bank)).any(1).nonzero().flatten().tolist()
        assert changed == [0, 1, 2, 10, 11]
    assert torch.equal(r0["labels"], r1["labels"])
    assert r0["labels"][[0, 1, 2, 10, 11]].tolist() == r0["y"].tolist() + r1["y"].tolist()
    assert float(r0["seen"]) == float(r1["seen"]) == 8.0


@pytest.mark.parametrize("name", list(GATHERED))
def test_batch_relations_match_one_process(ranks, name):
    """Value (the ranks' values weighted by their share of the batch, as the trainer
    averages them) and every gradient agree with one process on the global batch."""
    value, _, grads, loss = run_gathered(name, slice(None))
    weighted = sum(r[name]["value"] * r[name]["n"] / N_GLOBAL for r in ranks)
    assert weighted == pytest.approx(value, rel=1e-9)
    if name in ("rkd", "pkt", "sp"):  # wholly relational: every rank has the global value
        assert [r[name]["value"] for r in ranks] == pytest.approx([value] * WORLD, rel=1e-9)
    for r in ranks:
        assert set(r[name]["grads"]) == set(grads)
        for pname, g in grads.items():
            assert torch.allclose(r[name]["grads"][pname], g, rtol=1e-9, atol=1e-12), pname
    if name == "crd":
        for r in ranks:
            assert float(r[name]["z_s"]) == pytest.approx(float(loss.z_s), rel=1e-12)
            assert float(r[name]["z_t"]) == pytest.approx(float(loss.z_t), rel=1e-12)

"""Helpers shared by the losses: picking tapped features, shapes, gathering rows under DDP."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, model_validator

from edgekd.distill.losses import LossContext, Outputs
from edgekd.errors import ConfigError


class LayerPairs(BaseModel):
    """One or more (student layer, teacher layer) module paths, paired in order."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    student_layers: list[str] = Field(min_length=1, description="student module paths")
    teacher_layers: list[str] = Field(min_length=1, description="teacher module paths")

    @model_validator(mode="after")
    def _same_length(self):
        if len(self.student_layers) != len(self.teacher_layers):
            raise ValueError(
                f"student_layers ({len(self.student_layers)}) and teacher_layers "
                f"({len(self.teacher_layers)}) must pair up one to one"
            )
        return self

    def paths(self) -> tuple[list[str], list[str]]:
        """The tap paths these options declare: (student paths, teacher paths)."""
        return list(self.student_layers), list(self.teacher_layers)


class OptionalPair(BaseModel):
    """A student/teacher module path each; left out, the logits are used instead."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    student_layer: str | None = Field(None, description="student module path (None: logits)")
    teacher_layer: str | None = Field(None, description="teacher module path (None: logits)")

    def paths(self) -> tuple[list[str], list[str]]:
        """The tap paths these options declare: (student paths, teacher paths)."""
        s, t = self.student_layer, self.teacher_layer
        return ([s] if s else []), ([t] if t else [])


def pick(out: Outputs, path: str | None, student: bool) -> torch.Tensor:
    """A tapped feature by path, or the logits when `path` is None."""
    if path is None:
        return out.s_logits if student else out.t_logits
    return (out.s_feats if student else out.t_feats)[path]


def shape_of(ctx: LossContext, path: str | None, student: bool, loss: str) -> tuple:
    """The per-sample shape of a tapped path, from the scheme's probe of the models."""
    if path is None:
        return (ctx.num_classes,)
    shapes = ctx.s_shapes if student else ctx.t_shapes
    if path not in shapes:
        who = "student" if student else "teacher"
        raise ConfigError(
            f"loss '{loss}' reads {who} layer '{path}' but the distillation scheme did not tap "
            "it. Use a scheme that installs feature taps (e.g. offline) or a response loss."
        )
    return tuple(shapes[path])


def require_maps(shape: tuple, path: str, loss: str) -> None:
    """Spatial losses need (C, L) or (C, H, W) feature maps, not flat vectors."""
    if len(shape) not in (2, 3):
        raise ConfigError(
            f"loss '{loss}' needs a conv feature map of shape (C, L) or (C, H, W), but layer "
            f"'{path}' gives {shape}. Tap a convolutional layer, or use a loss that works on "
            "flat features (fitnets, rkd, pkt, sp, crd)."
        )


def check_same_rank(s_shape: tuple, t_shape: tuple, s_path: str, t_path: str, loss: str):
    if len(s_shape) != len(t_shape):
        raise ConfigError(
            f"loss '{loss}' pairs student layer '{s_path}' {s_shape} with teacher layer "
            f"'{t_path}' {t_shape}; both must be 1-D (C, L) or both 2-D (C, H, W) maps."
        )


def match_spatial(s: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Average-pool the larger of two (N, C, *spatial) maps to the other's spatial size."""
    if s.shape[2:] == t.shape[2:]:
        return s, t
    pool = F.adaptive_avg_pool1d if s.dim() == 3 else F.adaptive_avg_pool2d
    if s.shape[2:].numel() > t.shape[2:].numel():
        return pool(s, t.shape[2:]), t
    return s, pool(t, s.shape[2:])


def world_size() -> int:
    """Processes in the torch.distributed group (1 when not distributed)."""
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _gather_parts(x: torch.Tensor) -> list[torch.Tensor]:
    """Every rank's (n_r, ...) rows, detached, one tensor per rank in rank order.

    Ranks may hold different n_r (the last batch of an epoch), so rows are padded to the
    largest n_r for the all_gather and trimmed after.
    """
    import torch.distributed as dist

    x = x.detach().contiguous()
    n = torch.tensor([len(x)], device=x.device)
    sizes = [torch.zeros_like(n) for _ in range(world_size())]
    dist.all_gather(sizes, n)
    padded = x.new_zeros(int(max(sizes)), *x.shape[1:])
    padded[: len(x)] = x
    parts = [torch.zeros_like(padded) for _ in sizes]
    dist.all_gather(parts, padded)
    return [p[: int(s)] for p, s in zip(parts, sizes)]


def gather_rows(x: torch.Tensor) -> torch.Tensor:
    """Concatenate every rank's rows, detached, in rank order; `x` itself when not distributed."""
    if world_size() == 1:
        return x
    return torch.cat(_gather_parts(x))


class _ScaleGrad(torch.autograd.Function):
    """Identity forward; multiplies the gradient by `k` on the way back."""

    @staticmethod
    def forward(ctx, x, k: float):
        ctx.k = k
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.k, None


def gather_batch(x: torch.Tensor) -> torch.Tensor:
    """The global batch under DDP: every rank's rows of `x` in rank order, for losses on
    relations between samples (a rank's shard alone would give other relations).

    Only this rank's rows carry gradient (the other ranks' are detached copies), scaled by
    n_global / n_local: the trainer treats each rank's loss as a mean over its own rows
    (it scales it by n_local * W / n_global before DDP averages the W gradients), so with
    this scale the averaged gradient is the gradient of the loss on the global batch, as
    in one process. `x` itself when not distributed.
    """
    if world_size() == 1:
        return x
    import torch.distributed as dist

    parts = _gather_parts(x)
    n_global = sum(len(p) for p in parts)
    parts[dist.get_rank()] = _ScaleGrad.apply(x, n_global / max(len(x), 1))
    return torch.cat(parts)

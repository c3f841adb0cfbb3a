"""Where training and teacher inference run: `device:` and `amp:` of a pipeline.

`auto` picks CUDA when torch sees a GPU, else the CPU (MPS only when named). Mixed precision
is torch.autocast (bf16, or fp16 with a GradScaler on CUDA); 4-D inputs on CUDA train in
channels-last memory format. On the CPU with `amp: off` nothing changes: the same ops in the
same order, so CPU runs and their bitwise resume are as before. The CUDA and MPS paths follow
torch's documented APIs but have not run in edgekd's own CI (no GPU there): benchmarks/
gpu_check.py exercises them on a GPU machine.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from edgekd.errors import ConfigError


@dataclass(frozen=True)
class Hardware:
    device: str = "cpu"  # "cpu", "cuda:N" or "mps"
    amp: str = "off"  # "off", "bf16" or "fp16"

    @property
    def type(self) -> str:
        return self.device.split(":")[0]

    @property
    def is_cpu(self) -> bool:
        return self.type == "cpu"

    def key(self) -> dict:
        """What a training stage's cache key holds: results differ across device types and
        precisions, not across GPU indices."""
        return {"device": self.type, "amp": self.amp}

    def autocast(self):
        """torch.autocast for `amp`, or a no-op context."""
        if self.amp == "off":
            return contextlib.nullcontext()
        import torch

        dtype = torch.bfloat16 if self.amp == "bf16" else torch.float16
        return torch.autocast(device_type=self.type, dtype=dtype)

    def scaler(self):
        """A GradScaler for fp16 (its small range underflows gradients), else None."""
        if self.amp != "fp16":
            return None
        import torch

        return torch.amp.GradScaler(self.type)

    def channels_last(self, ndim: int) -> bool:
        return self.type == "cuda" and ndim == 4

    def model(self, module, ndim: int = 0):
        """`module` on this device (channels-last where its inputs are 4-D on CUDA)."""
        if self.is_cpu:
            return module
        module = module.to(self.device)
        if self.channels_last(ndim):
            import torch

            module = module.to(memory_format=torch.channels_last)
        return module

    def batch(self, x):
        """A CPU batch on this device, channels-last when that helps."""
        if self.is_cpu:
            return x
        import torch

        x = x.to(self.device, non_blocking=True)
        if self.channels_last(x.dim()):
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def to(self, x):
        return x if self.is_cpu else x.to(self.device, non_blocking=True)


CPU = Hardware()


def resolve_hardware(device: str = "auto", amp: str = "off", source: str = "pipeline") -> Hardware:
    """The device to train on; a ConfigError naming `source` where this machine lacks it."""
    import torch

    kind = device.split(":")[0]
    if device == "auto":
        kind = "cuda" if torch.cuda.is_available() else "cpu"
    if kind == "cuda":
        resolved = _cuda(device, source)
    elif kind == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError(
                f"{source}: device: 'mps' asks for Apple's Metal GPU, which this machine or "
                "torch build does not have. Use device: cpu or auto."
            )
        resolved = "mps"
    else:
        resolved = "cpu"
    _check_amp(resolved, amp, source)
    return Hardware(resolved, amp)


def _cuda(device: str, source: str) -> str:
    import torch

    if not torch.cuda.is_available():
        raise ConfigError(
            f"{source}: device: '{device}' asks for a CUDA GPU, but torch "
            f"{torch.__version__} sees none here (torch.cuda.is_available() is False). Use "
            "device: cpu or auto, or install a CUDA build of PyTorch on a machine with a GPU."
        )
    count = torch.cuda.device_count()
    index = int(device.split(":")[1]) if ":" in device else 0
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # under torchrun: one GPU per local rank
        index = int(os.environ.get("LOCAL_RANK", "0"))
    if index >= count:
        raise ConfigError(
            f"{source}: device: '{device}' (GPU {index}) does not exist; this machine has "
            f"{count} CUDA device(s), 0..{count - 1}."
        )
    return f"cuda:{index}"


def _check_amp(device: str, amp: str, source: str) -> None:
    import torch

    kind = device.split(":")[0]
    if amp == "fp16" and kind != "cuda":
        raise ConfigError(
            f"{source}: amp: fp16 needs a CUDA GPU (its gradients need a GradScaler); on "
            f"the {kind.upper()} use amp: bf16, or amp: off."
        )
    if amp == "bf16" and kind == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError(
            f"{source}: amp: bf16 is not supported by this GPU ({torch.cuda.get_device_name()});"
            " use amp: fp16."
        )

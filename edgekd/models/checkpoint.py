"""Read a user's checkpoint as a state_dict without ever running pickled code."""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from edgekd.errors import CheckpointError


def read_state_dict(path: Path) -> dict:
    """A state_dict from .safetensors or a weights-only torch file; never runs pickled code."""
    from edgekd.config.paths import require_file

    if not path.exists():
        raise CheckpointError(f"checkpoint '{path}' does not exist.")
    require_file(path, "checkpoint", CheckpointError)
    try:
        if path.suffix == ".safetensors":
            state = _read_safetensors(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        what = [ln.strip() for ln in str(exc).splitlines() if "GLOBAL" in ln.upper()]
        if not what:  # not a pickle of disallowed objects: junk or a cut-off file
            raise CheckpointError(
                f"checkpoint '{path}' is corrupt, truncated or not a PyTorch/safetensors file. "
                "Save it again with torch.save(model.state_dict(), path) or as .safetensors."
            ) from None
        raise CheckpointError(
            f"checkpoint '{path}' holds pickled objects other than tensors and was refused, "
            f"unloaded ({what[0][:160]}). Save a plain state_dict "
            "(torch.save(model.state_dict(), path)) or a .safetensors file."
        ) from None
    except CheckpointError:
        raise
    except Exception as exc:  # junk bytes make the unpickler fail in many ways (IndexError, ...)
        raise CheckpointError(
            f"checkpoint '{path}' is corrupt or truncated ({type(exc).__name__}). "
            "Save it again with torch.save(model.state_dict(), path) or as .safetensors."
        ) from None
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise CheckpointError(f"checkpoint '{path}' does not hold a state_dict of tensors.")
    bad = next((k for k, v in state.items() if not _finite(v)), None)
    if bad is not None:
        raise CheckpointError(
            f"checkpoint '{path}' holds NaN or inf in '{bad}'; a model with non-finite weights "
            "cannot teach or be measured. Save it again from a healthy training run."
        )
    return state


def _finite(t: torch.Tensor) -> bool:
    return not (t.is_floating_point() or t.is_complex()) or bool(torch.isfinite(t).all())


def _read_safetensors(path: Path) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except SafetensorError as exc:
        raise CheckpointError(
            f"checkpoint '{path}' is not a readable .safetensors file ({exc}); it is corrupt or "
            "truncated. Save it again with safetensors.torch.save_file(model.state_dict(), path)."
        ) from None


def load_weights(model: torch.nn.Module, state: dict, path: Path, what: str, fix: str) -> None:
    """`state` into `model`, or a CheckpointError listing a few missing and unexpected keys
    (and shape mismatches) that says which YAML keys to check."""
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shapes that differ: torch lists them
        lines = [ln.strip() for ln in str(exc).splitlines() if "size mismatch" in ln]
        shown = "; ".join(lines[:3]) or str(exc).splitlines()[0]
        raise CheckpointError(
            f"checkpoint '{path}' does not fit {what}: {shown[:400]}. Check {fix}."
        ) from None
    missing, unexpected = list(result.missing_keys), list(result.unexpected_keys)
    if missing or unexpected:
        raise CheckpointError(
            f"checkpoint '{path}' does not fit {what}: {_few(missing, 'missing')}; "
            f"{_few(unexpected, 'unexpected')}. Check {fix} (a checkpoint saved from a "
            "wrapper may need its key prefix, e.g. 'module.', removed)."
        )


def _few(keys: list[str], what: str, shown: int = 4) -> str:
    if not keys:
        return f"no {what} keys"
    more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
    return f"{len(keys)} {what} key(s): {', '.join(keys[:shown])}{more}"

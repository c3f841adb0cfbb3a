"""Image files as samples: decoded with Pillow per batch, preprocessed the same way everywhere.

`Preprocess` is the one description of how a file becomes a model input (resize, center
crop, channels, scale to 0..1, per-channel mean/std, CHW layout); the data stage records it
as numbers (`spec()`), so a deployed bundle can apply exactly the same steps to a new image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from edgekd.data.source import Source
from edgekd.errors import DataError

EXTENSIONS = (".png", ".jpg", ".jpeg")
Side = Annotated[int, Field(ge=1, le=8192)]


class Preprocess(BaseModel):
    """How an image file becomes a float32 (C, H, W) input."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    resize: Side | list[Side] | None = None  # int: shorter side to this; [h, w]: exactly
    crop: Side | list[Side] | None = None  # center crop to [h, w] (an int: square)
    channels: Literal[1, 3] = 3  # 3: RGB, 1: grayscale (L)
    mean: list[float] | None = None  # per channel, on 0..1 values; None: no normalization
    std: list[Annotated[float, Field(gt=0)]] | None = None

    @model_validator(mode="after")
    def _shapes(self) -> Preprocess:
        for key in ("resize", "crop"):
            value = getattr(self, key)
            if isinstance(value, list) and len(value) != 2:
                raise ValueError(f"`{key}` is one side or [height, width]")
        if (self.mean is None) != (self.std is None):
            raise ValueError("give `mean` and `std` together (per channel, on 0..1 values)")
        for key in ("mean", "std"):
            value = getattr(self, key)
            if value is not None and len(value) != self.channels:
                raise ValueError(f"`{key}` needs one value per channel ({self.channels})")
        return self

    def spec(self) -> dict:
        """The steps as numbers, in order, for a bundle's manifest and predict.py."""
        return {
            "kind": "image",
            "decode": "Pillow",
            "channels": self.channels,
            "channel_order": "RGB" if self.channels == 3 else "L",
            "resize": self.resize,
            "resize_mode": "shorter-side" if isinstance(self.resize, int) else "exact",
            "interpolation": "bilinear",
            "crop": [self.crop, self.crop] if isinstance(self.crop, int) else self.crop,
            "crop_mode": "center",
            "scale": 1 / 255,
            "mean": self.mean,
            "std": self.std,
            "layout": "NCHW",
            "dtype": "float32",
        }

    def text(self) -> str:
        steps = ["RGB" if self.channels == 3 else "grayscale"]
        if self.resize is not None:
            side = "shorter side to" if isinstance(self.resize, int) else "resized to"
            steps.append(f"{side} {self.resize} (bilinear)")
        if self.crop is not None:
            steps.append(f"center crop {self.crop}")
        steps.append("pixel / 255")
        if self.mean is not None:
            steps.append(f"(x - mean) / std per channel, mean {self.mean}, std {self.std}")
        return ", ".join(steps) + "; layout CHW"

    def __call__(self, path: Path) -> np.ndarray:
        from PIL import Image

        try:
            with Image.open(path) as im:
                im = im.convert("RGB" if self.channels == 3 else "L")
                im = self._resize(im)
                im = self._crop(im)
                arr = np.asarray(im, dtype=np.float32) / 255.0
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise DataError(
                f"image '{path}' cannot be read ({type(exc).__name__}: {exc}); it is corrupt, "
                "truncated or not an image. Replace or remove it."
            ) from None
        arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
        if self.mean is not None:
            mean = np.asarray(self.mean, np.float32)[:, None, None]
            arr = (arr - mean) / np.asarray(self.std, np.float32)[:, None, None]
        return np.ascontiguousarray(arr, dtype=np.float32)

    def _resize(self, im):
        from PIL import Image

        if self.resize is None:
            return im
        if isinstance(self.resize, int):
            w, h = im.size
            scale = self.resize / min(w, h)
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
        else:
            size = (self.resize[1], self.resize[0])
        return im if im.size == size else im.resize(size, Image.BILINEAR)

    def _crop(self, im):
        if self.crop is None:
            return im
        ch, cw = (self.crop, self.crop) if isinstance(self.crop, int) else self.crop
        w, h = im.size
        if ch > h or cw > w:
            raise ValueError(f"crop {ch}x{cw} is larger than the image ({h}x{w}) after resize")
        top, left = (h - ch) // 2, (w - cw) // 2
        return im.crop((left, top, left + cw, top + ch))


def list_images(folder: Path) -> list[Path]:
    """Image files under `folder` (recursively), sorted, hidden files skipped."""
    return sorted(
        p
        for p in Path(folder).rglob("*")
        if p.suffix.lower() in EXTENSIONS
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


class ImageFiles(Source):
    """Images decoded on demand; every file must give the shape of the first one."""

    decodes = True

    def __init__(self, files: list[Path], prep: Preprocess):
        self.files, self.prep = list(files), prep
        self._shape: tuple[int, ...] | None = None

    def __len__(self) -> int:
        return len(self.files)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        if self._shape is None:
            self._shape = self.prep(self.files[0]).shape if self.files else (self.prep.channels,)
        return self._shape

    def take(self, idx: np.ndarray) -> np.ndarray:
        shape = self.sample_shape
        out = np.empty((len(idx), *shape), dtype=np.float32)
        for k, i in enumerate(np.asarray(idx, dtype=np.int64)):
            img = self.prep(self.files[int(i)])
            if img.shape != shape:
                raise DataError(
                    f"image '{self.files[int(i)]}' gives shape {list(img.shape)} but "
                    f"'{self.files[0]}' gives {list(shape)}; images of one dataset must "
                    "match. Set `resize` and/or `crop` in the dataset's options."
                )
            out[k] = img
        return out

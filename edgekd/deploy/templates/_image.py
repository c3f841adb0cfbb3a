# ruff: noqa: F821  (fail comes before this in predict.py)
# Image files as model inputs, with the bundle's own preprocessing; copied in by
# edgekd.deploy.compose. The steps and their order are those of edgekd's data stage for image
# folders (decode, RGB or L, resize, center crop, scale, per-channel mean/std, layout), read
# as numbers from manifest.json, so a photo taken on the device is fed as training saw it.

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
MAX_SIDE = 8192


def image_steps(manifest):
    """The manifest's image preprocessing, checked; None where it records none (text only)."""
    prep = manifest.get("preprocessing")
    if not isinstance(prep, dict) or prep.get("kind") != "image":
        return None
    channels = prep.get("channels", 3)
    layout = prep.get("layout", "NCHW")
    scale = prep.get("scale", 1 / 255)
    if isinstance(channels, bool) or channels not in (1, 3) or layout not in ("NCHW", "NHWC"):
        _bad_prep("channels must be 1 or 3 and layout NCHW or NHWC")
    steps = {
        "channels": channels,
        "resize": _sides(prep.get("resize"), "resize", allow_one=True),
        "crop": _sides(prep.get("crop"), "crop"),
        "interpolation": prep.get("interpolation", "bilinear"),
        "scale": scale,
        "mean": _per_channel(prep.get("mean"), channels, "mean"),
        "std": _per_channel(prep.get("std"), channels, "std"),
        "layout": layout,
    }
    if not _number(scale) or scale <= 0:
        _bad_prep("scale must be a positive number")
    if (steps["mean"] is None) != (steps["std"] is None) or min(steps["std"] or [1]) <= 0:
        _bad_prep("mean and std come together, std > 0")
    if steps["interpolation"] not in ("bilinear", "nearest", "bicubic"):
        _bad_prep("interpolation must be bilinear, nearest or bicubic")
    return steps


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) < 1e30


def _sides(value, what, allow_one=False):
    """None, one side (a square crop; a shorter-side resize), or [height, width]."""
    if value is None:
        return None
    one = isinstance(value, int) and not isinstance(value, bool)
    sides = [value] if one else value
    ok = isinstance(sides, list) and len(sides) in ((1, 2) if one else (2,))
    if not ok or not all(isinstance(s, int) and 1 <= s <= MAX_SIDE for s in sides):
        _bad_prep(f"{what} must be a side or [height, width] in 1..{MAX_SIDE}")
    return value if (one and allow_one) else (sides * 2 if one else sides)


def _per_channel(value, channels, what):
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != channels or not all(map(_number, value)):
        _bad_prep(f"{what} must hold one number per channel ({channels})")
    return value


def _bad_prep(why):
    fail(f"the bundle's image preprocessing cannot be applied: {why}. Rebuild the bundle.")


def load_image(path, manifest):
    """One image file as one model input (a float32 sample), or a one-line refusal."""
    steps = image_steps(manifest)
    if steps is None:
        prep = manifest.get("preprocessing")
        text = prep.get("text", "") if isinstance(prep, dict) else str(prep or "")
        fail(
            f"'{path}' is an image, but this bundle records no image preprocessing (its "
            f"inputs: {text or 'as stored'}); give an .npy array of its input shape."
        )
    try:
        from PIL import Image
    except ImportError:
        fail("reading image files needs Pillow: pip install pillow")
    try:
        with Image.open(path) as im:
            im = im.convert("RGB" if steps["channels"] == 3 else "L")
            im = _crop(_resize(im, steps, Image), steps["crop"])
            return _to_array(im, steps)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        fail(f"cannot read '{path}' as an image ({type(exc).__name__}: {exc}).")


def _resize(im, steps, image_module):
    size = steps["resize"]
    if size is None:
        return im
    if isinstance(size, int):  # the shorter side to `size`, keeping the aspect ratio
        w, h = im.size
        scale = size / min(w, h)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
    else:
        size = (size[1], size[0])
    how = getattr(image_module, steps["interpolation"].upper())
    return im if im.size == size else im.resize(size, how)


def _crop(im, crop):
    if crop is None:
        return im
    ch, cw = crop
    w, h = im.size
    if ch > h or cw > w:
        raise ValueError(f"crop {ch}x{cw} is larger than the image ({h}x{w}) after resize")
    top, left = (h - ch) // 2, (w - cw) // 2
    return im.crop((left, top, left + cw, top + ch))


def _to_array(im, steps):
    import numpy as np

    arr = np.asarray(im, dtype=np.float32) / np.float32(1 / steps["scale"])
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    if steps["mean"] is not None:
        mean = np.asarray(steps["mean"], np.float32)[:, None, None]
        arr = (arr - mean) / np.asarray(steps["std"], np.float32)[:, None, None]
    if steps["layout"] == "NHWC":
        arr = arr.transpose(1, 2, 0)
    return np.ascontiguousarray(arr, dtype=np.float32)

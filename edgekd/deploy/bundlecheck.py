"""The bundle check itself: `edgekd verify`, every edgekd loader and each bundle's predict.py
run this same code, so a bundle is held to one set of rules wherever it is opened.

It is standalone on purpose (the standard library only, no annotations newer than Python 3.8):
`edgekd.deploy.compose` copies this file's source into every predict.py, which runs on
devices without edgekd. The rules:
- manifest.json is a regular file of bounded size holding a JSON object with the keys loaders
  read; its input shape and dtype, output shape and labels are bounded;
- every name it lists (files, artifact, built_on_device) is a plain file name: no folders,
  no `..`, nothing outside the bundle; the artifact is one of them;
- every listed file is a regular file (never a symlink, device or pipe, so nothing outside
  the bundle is followed or read forever) whose sha256 matches; nothing unlisted is there,
  except the files the runtime builds on the device (`later`), which must be regular too.
"""

import hashlib
import json
import os
import stat

MANIFEST = "manifest.json"
SCHEMA = "edgekd.bundle/1"
REQUIRED = ("runtime", "artifact", "target", "precision", "input")
MAX_MANIFEST_BYTES = 1 << 20
MAX_FILES = 256
MAX_BUNDLE_BYTES = 64 << 30  # what is hashed, so a check always ends in bounded time
MAX_RANK = 8  # dimensions of one sample, batch excluded
MAX_DIM = 1 << 20
MAX_ELEMENTS = 1 << 26  # of one sample: 256 MiB of float32
MAX_CLASSES = 1 << 20
MAX_LABEL_CHARS = 1024
MAX_THREADS = 4096
DTYPES = ("float32", "float16", "float64", "int64", "int32", "int8", "uint8", "bool")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


class BundleError(Exception):
    """A bundle that must not be loaded; the message says why and what to do."""


def check_bundle(folder, later_by_runtime):
    """Check `folder` against its manifest before anything in it is loaded; returns the
    manifest. `later_by_runtime` maps a runtime to the files its device may add unhashed."""
    folder = str(folder)
    try:
        return _check(folder, later_by_runtime)
    except BundleError:
        raise
    except OSError as exc:  # an unreadable folder or file: refused, never half-checked
        raise BundleError(
            f"bundle '{folder}': cannot read {exc.filename or 'it'} ({exc.strerror or exc}). Check "
            "its permissions, or re-copy the bundle."
        ) from None


def _check(folder, later_by_runtime):
    manifest = read_manifest(folder)
    files = manifest["files"]
    allowed = later_by_runtime.get(manifest["runtime"], ())
    later = set(manifest.get("built_on_device") or ()) & set(allowed)
    unlisted = sorted(
        n for n in os.listdir(folder) if n != MANIFEST and n not in files and n not in later
    )
    if unlisted:
        more = f" and {len(unlisted) - 10} more" if len(unlisted) > 10 else ""
        raise BundleError(
            f"bundle '{folder}': {unlisted[:10]}{more} not listed in {MANIFEST}, so they cannot "
            "be verified. Refusing to load it; rebuild or re-copy the bundle."
        )
    if manifest["artifact"] not in files and manifest["artifact"] not in later:
        _fail(folder, f"the manifest's artifact '{manifest['artifact']}' is not one of its files")
    total = sum(file_size(folder, name) for name in files)
    if total > MAX_BUNDLE_BYTES:
        _fail(folder, f"its files hold {total} bytes, more than {MAX_BUNDLE_BYTES}")
    for name, digest in files.items():
        if sha256_regular(folder, name) != digest:
            raise BundleError(
                f"bundle '{folder}': '{name}' does not match its sha256 in the manifest; it "
                "was changed or damaged. Refusing to load it."
            )
    for name in sorted(later):
        if os.path.lexists(os.path.join(folder, name)):
            _regular_fd(folder, name)  # built on the device: a real file, never a link
    return manifest


def read_manifest(folder):
    """The manifest, checked for shape and bounds (not yet against the files)."""
    path = os.path.join(folder, MANIFEST)
    if not os.path.isdir(folder) or not os.path.lexists(path):
        raise BundleError(f"'{folder}' is not a deploy bundle: it has no {MANIFEST}.")
    fd = _regular_fd(folder, MANIFEST)
    with os.fdopen(fd, "rb") as f:
        data = f.read(MAX_MANIFEST_BYTES + 1)
    if len(data) > MAX_MANIFEST_BYTES:
        _fail(folder, f"{MANIFEST} is larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        manifest = None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not all(_is_digest(v) for v in files.values()):
        raise BundleError(f"'{path}' is not a valid edgekd manifest. Rebuild the bundle.")
    missing = [k for k in REQUIRED if k not in manifest]
    shape = manifest["input"].get("shape") if isinstance(manifest.get("input"), dict) else 0
    if missing or not isinstance(shape, list):
        raise BundleError(
            f"'{path}' is not a complete edgekd manifest (missing {missing or ['input.shape']}); "
            "it was edited or written by an older edgekd. Rebuild the bundle."
        )
    if manifest.get("schema", SCHEMA) != SCHEMA:
        raise BundleError(
            f"'{path}' has schema {str(manifest.get('schema'))[:40]!r}; this check reads "
            f"{SCHEMA}. Use the edgekd that built the bundle, or rebuild it."
        )
    check_fields(folder, manifest)
    return manifest


def check_fields(folder, m):
    """Names are plain file names; shapes, dtypes, labels and settings are bounded."""
    if len(m["files"]) > MAX_FILES:
        _fail(folder, f"the manifest lists more than {MAX_FILES} files")
    for name in m["files"]:
        _plain(folder, name, "file")
    for key in ("runtime", "target", "precision"):
        if not isinstance(m[key], str) or not m[key] or len(m[key]) > 255:
            _fail(folder, f"the manifest's {key} is not a name")
    _plain(folder, m["artifact"], "artifact")
    later = m.get("built_on_device") or []
    if not isinstance(later, list) or len(later) > MAX_FILES:
        _fail(folder, "built_on_device is not a short list of file names")
    for name in later:
        _plain(folder, name, "built_on_device entry")
    sample_shape(folder, m)
    classes = output_classes(folder, m)
    labels = m.get("labels")
    if labels is not None and not (
        isinstance(labels, list)
        and len(labels) <= MAX_CLASSES
        and all(isinstance(s, str) and len(s) <= MAX_LABEL_CHARS for s in labels)
    ):
        _fail(folder, "labels must be a list of short strings")
    if classes is not None and labels and len(labels) != classes:
        _fail(folder, f"{len(labels)} labels for {classes} output classes")
    run_settings(folder, m)


def run_settings(folder, m):
    """The target's settings and the tuned ones predict.py loads the runtime with."""
    tc = m.get("target_config", {})
    if not isinstance(tc, dict) or not isinstance(tc.get("runtime_options", {}), dict):
        _fail(folder, "target_config and its runtime_options must be mappings")
    batch = tc.get("runtime_options", {}).get("max_batch", 1)
    if not _int_in(batch, 1, MAX_DIM):
        _fail(folder, f"runtime_options.max_batch must be an integer in 1..{MAX_DIM}")
    tuned = m.get("tuned_settings", {})
    options = tuned.get("options", {}) if isinstance(tuned, dict) else None
    if not isinstance(options, dict) or len(options) > MAX_FILES:
        _fail(folder, "tuned_settings and its options must be mappings")
    if not all(v is None or isinstance(v, (str, int, float)) for v in options.values()):
        _fail(folder, "tuned_settings.options values must be plain numbers, strings or flags")
    if not _int_in(tuned.get("threads", 1), 1, MAX_THREADS):
        _fail(folder, f"tuned_settings.threads must be an integer in 1..{MAX_THREADS}")


def sample_shape(folder, m):
    """One sample's shape (the batch dimension, None or a number, dropped), bounded."""
    inp = m["input"]
    shape = inp["shape"]
    if not 1 <= len(shape) <= MAX_RANK + 1 or not (shape[0] is None or _int_in(shape[0])):
        _fail(folder, f"input.shape must be [batch, d1, ...] with at most {MAX_RANK} dims")
    dims = shape[1:]
    if not all(_int_in(d) for d in dims):
        _fail(folder, f"input.shape dims must be integers in 1..{MAX_DIM}, not {dims}")
    total = 1
    for d in dims:
        total *= d
    if total > MAX_ELEMENTS:
        _fail(folder, f"one input sample of {total} elements exceeds {MAX_ELEMENTS}")
    if inp.get("dtype", "float32") not in DTYPES:
        _fail(folder, f"input.dtype must be one of {', '.join(DTYPES)}")
    return dims


def output_classes(folder, m):
    out = m.get("output")
    if out is None:
        return None
    shape = out.get("shape") if isinstance(out, dict) else None
    ok = isinstance(shape, list) and len(shape) == 2 and (shape[0] is None or _int_in(shape[0]))
    if not ok or not _int_in(shape[1], 1, MAX_CLASSES):
        _fail(folder, f"output.shape must be [batch, classes] with 1..{MAX_CLASSES} classes")
    return shape[1]


def file_size(folder, name):
    fd = _regular_fd(folder, name)
    try:
        return os.fstat(fd).st_size
    finally:
        os.close(fd)


def sha256_regular(folder, name):
    """sha256 of a regular file in `folder`, read through a descriptor that follows nothing."""
    h = hashlib.sha256()
    with os.fdopen(_regular_fd(folder, name), "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _regular_fd(folder, name):
    path = os.path.join(folder, name)
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except FileNotFoundError:
        raise BundleError(
            f"bundle '{folder}': file '{name}' listed in the manifest is missing or outside "
            "the bundle. Rebuild or re-copy the bundle."
        ) from None
    except OSError:  # ELOOP: a symbolic link; others: unreadable
        fd = None
    if fd is None or not stat.S_ISREG(os.fstat(fd).st_mode) or os.path.islink(path):
        if fd is not None:
            os.close(fd)
        raise BundleError(
            f"bundle '{folder}': '{name}' is not a regular file inside the bundle (a link, "
            "device, pipe or folder). Refusing to follow it; rebuild or re-copy the bundle."
        )
    return fd


def _plain(folder, name, what):
    bad = (
        not isinstance(name, str)
        or name in ("", ".", "..", MANIFEST)
        or len(name) > 255
        or any(c in name for c in "/\\\0:")
    )
    if bad:
        raise BundleError(
            f"bundle '{folder}': the manifest's {what} {name!r} is not a plain file name "
            "inside the bundle (it points outside the bundle or is malformed). Rebuild or "
            "re-copy the bundle."
        )


def _is_digest(value):
    return (
        isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    )


def _int_in(value, low=1, high=MAX_DIM):
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _fail(folder, why):
    raise BundleError(
        f"bundle '{folder}': {why}. The manifest was edited or damaged; rebuild the bundle."
    )

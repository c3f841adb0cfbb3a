# ruff: noqa: F821  (HERE, LATER, check_bundle and BundleError come before this in predict.py)
# The command line every bundle's predict.py shares; copied in by edgekd.deploy.compose.
import json  # noqa: E402


def fail(message):
    """A refused bundle or input: one line on stderr, exit status 2, nothing loaded."""
    print("error: " + message, file=sys.stderr)
    sys.exit(2)


def checked_manifest():
    """The bundle, checked exactly as `edgekd verify` checks it, before anything is loaded."""
    try:
        return check_bundle(HERE, LATER)
    except BundleError as exc:
        fail(str(exc))


def read_npy(path):
    """An .npy file, never a pickle; a file that is not one is a refusal, not a traceback."""
    import numpy as np

    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        fail(f"cannot read '{path}' as an .npy array ({exc}).")


def read_inputs(path, manifest):
    """One sample or a batch, in the model's layout and dtype."""
    import numpy as np

    x = read_npy(path)
    shape = tuple(manifest["input"]["shape"][1:])
    if x.shape == shape:
        x = x[None]
    if x.ndim == 0 or tuple(x.shape[1:]) != shape or len(x) == 0:
        fail(
            f"'{path}' holds an array of shape {list(x.shape)}; the model takes one sample of "
            f"shape {list(shape)} or a batch of them."
        )
    dtype = manifest["input"].get("dtype", "float32")
    try:
        return np.ascontiguousarray(x.astype(dtype))
    except (TypeError, ValueError):
        fail(f"'{path}' holds {x.dtype} values, which do not convert to the model's {dtype}.")


def main(doc, classify, threads=False):
    import argparse

    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("inputs", nargs="?", help="an .npy file: one sample or a batch")
    ap.add_argument("--labels", help="an .npy file of labels: print only the accuracy")
    ap.add_argument("--check", action="store_true", help="only check the bundle, then exit")
    if threads:
        ap.add_argument("--threads", type=int, default=0, help="runtime threads (0: default)")
    args = ap.parse_args()
    if threads and not 0 <= args.threads <= (os.cpu_count() or 1):
        ap.error(f"--threads must lie in 0..{os.cpu_count() or 1} (the CPUs here)")
    manifest = checked_manifest()
    if args.check:
        print(f"verified: {HERE}")
        return
    if args.inputs is None:
        ap.error("give an .npy file of inputs (or --check)")
    x = read_inputs(args.inputs, manifest)
    y = read_npy(args.labels) if args.labels else None
    try:
        pred = classify(manifest, x, args)
    except Exception as exc:  # each runtime raises its own types
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        fail(f"the runtime cannot run this bundle's model on these inputs: {first}")
    if y is not None:
        if y.shape != pred.shape:
            fail(f"{len(pred)} inputs but labels of shape {list(y.shape)}.")
        print(json.dumps({"accuracy": float((pred == y).mean()), "n": int(len(y))}))
        return
    labels = manifest.get("labels") or []
    for i, c in enumerate(pred.tolist()):
        label = labels[c] if 0 <= c < len(labels) else None
        print(json.dumps({"index": i, "class": c, "label": label}))

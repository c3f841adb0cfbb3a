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


def read_inputs(path, manifest):
    """One sample or a batch from an .npy file (never a pickle), in the model's layout."""
    import numpy as np

    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        fail(f"cannot read '{path}' as an .npy array ({exc}).")
    shape = tuple(manifest["input"]["shape"][1:])
    if x.shape == shape:
        x = x[None]
    if x.ndim == 0 or tuple(x.shape[1:]) != shape or len(x) == 0:
        fail(
            f"'{path}' holds an array of shape {list(x.shape)}; the model takes one sample of "
            f"shape {list(shape)} or a batch of them."
        )
    return np.ascontiguousarray(x.astype(manifest["input"].get("dtype", "float32")))


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
    pred = classify(manifest, x, args)
    if args.labels:
        import numpy as np

        y = np.load(args.labels, allow_pickle=False)
        if y.shape != pred.shape:
            fail(f"{len(pred)} inputs but labels of shape {list(y.shape)}.")
        print(json.dumps({"accuracy": float((pred == y).mean()), "n": int(len(y))}))
        return
    labels = manifest.get("labels") or []
    for i, c in enumerate(pred.tolist()):
        label = labels[c] if 0 <= c < len(labels) else None
        print(json.dumps({"index": i, "class": c, "label": label}))

# ruff: noqa: F821  (HERE, LATER, check_bundle, BundleError, load_image come before this)
# The command line every bundle's predict.py shares; copied in by edgekd.deploy.compose.
import json  # noqa: E402

TOP_K = 5


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


def as_batch(x, path, manifest):
    """One sample or a batch, in the model's layout and dtype."""
    import numpy as np

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


def read_inputs(paths, manifest):
    """Every input file as one batch, with a name per sample: `x.npy[3]`, `cat.jpg`."""
    import numpy as np

    batches, names = [], []
    for path in paths:
        if os.path.splitext(path)[1].lower() in IMAGE_SUFFIXES:
            batches.append(as_batch(load_image(path, manifest), path, manifest))
            names.append(path)
            continue
        x = as_batch(read_npy(path), path, manifest)
        batches.append(x)
        names += [f"{path}[{i}]" for i in range(len(x))]
    return np.concatenate(batches), names


def probabilities(logits):
    """Softmax over the model's logits, in float64 so a confident class is not rounded to 1."""
    import numpy as np

    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def top_classes(p, k, labels):
    """The k most probable classes of one sample, most probable first (ties: lower class)."""
    import numpy as np

    order = np.argsort(-p, kind="stable")[:k].tolist()
    return [
        {"class": c, "label": labels[c] if c < len(labels) else None, "probability": float(p[c])}
        for c in order
    ]


def show(entry):
    """`7 0.812`, or `7:cat 0.812` where the label is more than the class number."""
    c, label = entry["class"], entry["label"]
    name = str(c) if label in (None, str(c)) else f"{c}:{label}"
    return f"{name} {entry['probability']:.3f}"


def print_predictions(names, probs, k, labels, as_json):
    """One line per input: its top-k classes with their probabilities (JSON with --json)."""
    for i, (name, p) in enumerate(zip(names, probs)):
        top = top_classes(p, k, labels)
        if as_json:
            best = top[0]
            row = {"index": i, "input": name, "class": best["class"], "label": best["label"]}
            print(json.dumps(row | {"probability": best["probability"], "top": top}))
        else:
            print(f"{name}  " + "  ".join(show(e) for e in top))


def cpus_here():
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def runtime_settings(manifest, args):
    """(threads, runtime options, where they came from): --threads first, else the settings
    tuning measured fastest (manifest `tuned_settings`), else the target's; the thread
    count is capped at the CPUs here (0: the runtime's own default)."""
    target = manifest.get("target_config") or {}
    tuned = manifest.get("tuned_settings") or {}
    options = dict(target.get("runtime_options") or {})
    options.update(tuned.get("options") or {})
    threads, source = getattr(args, "threads", 0), "--threads"
    if not threads:
        threads, source = tuned.get("threads") or 0, "tuned_settings"
    if not threads:
        threads, source = target.get("threads") or 0, "target_config"
    return (min(threads, cpus_here()) if threads else 0), options, source


def parse_args(doc, threads):
    import argparse

    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument(
        "inputs", nargs="*", help=".npy files (one sample or a batch each), or image files"
    )
    ap.add_argument("--top-k", type=int, default=TOP_K, help="classes shown per input")
    ap.add_argument("--json", action="store_true", help="one JSON object per input")
    ap.add_argument("--labels", help="an .npy file of labels: print only the accuracy")
    ap.add_argument("--check", action="store_true", help="only check the bundle, then exit")
    ap.add_argument(
        "--print-settings",
        action="store_true",
        help="load the model, print the runtime settings it runs with (JSON), then exit",
    )
    if threads:
        ap.add_argument("--threads", type=int, default=0, help="runtime threads (0: default)")
    args = ap.parse_args()
    if threads and not 0 <= args.threads <= (os.cpu_count() or 1):
        ap.error(f"--threads must lie in 0..{os.cpu_count() or 1} (the CPUs here)")
    if args.top_k < 1:
        ap.error("--top-k must be at least 1")
    if not (args.check or args.print_settings) and not args.inputs:
        ap.error("give input files (.npy or images), or --check")
    return args


def runtime_failed(exc):
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    fail(f"the runtime cannot run this bundle's model on these inputs: {first}")


def main(doc, load, threads=False):
    """`load(manifest, args)` -> (a function from a batch to logits, the settings applied
    as the runtime reports them)."""
    args = parse_args(doc, threads)
    manifest = checked_manifest()
    if args.check:
        print(f"verified: {HERE}")
        return
    if args.print_settings:
        try:
            print(json.dumps(load(manifest, args)[1], sort_keys=True))
        except Exception as exc:  # each runtime raises its own types
            runtime_failed(exc)
        return
    x, names = read_inputs(args.inputs, manifest)
    y = read_npy(args.labels) if args.labels else None
    try:
        probs = probabilities(load(manifest, args)[0](x))
    except Exception as exc:  # each runtime raises its own types
        runtime_failed(exc)
    if y is not None:
        pred = probs.argmax(1)
        if y.shape != pred.shape:
            fail(f"{len(pred)} inputs but labels of shape {list(y.shape)}.")
        print(json.dumps({"accuracy": float((pred == y).mean()), "n": int(len(y))}))
        return
    labels = manifest.get("labels") or []
    print_predictions(names, probs, args.top_k, labels, args.json)

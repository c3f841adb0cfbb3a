"""Classify inputs with this bundle: top-k classes with probabilities. Needs numpy, openvino.

    python predict.py x.npy [more.npy ...] [--top-k K] [--json] [--threads N]
    python predict.py photo.jpg ...          # where the bundle records image preprocessing
    python predict.py x_test.npy --labels y_test.npy
    python predict.py --check
    python predict.py --print-settings     # the runtime settings it loads with (JSON)

An .npy file holds one sample or a batch. Prints one line per input with its top-k classes
and probabilities (--json: one JSON object per line), or with --labels only the accuracy.
The runtime runs with the settings tuning measured fastest (manifest.json `tuned_settings`;
threads capped at the CPUs here), unless --threads says otherwise.
Before numpy, the runtime or the model is touched, every file is checked against
manifest.json by the same code as `edgekd verify` (copied in below), and nothing in this
bundle's folder is ever imported. Exit status 2: the bundle or the input was refused.
"""

# @requires openvino
# @requires numpy>=1.24
# ruff: noqa: E402, F821  (the included edgekd code defines the names used below)
import sys

if (
    __name__ == "__main__"
    and sys.path
    and not (getattr(sys.flags, "safe_path", 0) or sys.flags.isolated)
):
    sys.path.pop(0)  # Python put this bundle's folder first on the path: import nothing from it
import os  # frozen or loaded at start-up: never a file from this folder

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.realpath(p or ".") != os.path.realpath(HERE)]
sys.dont_write_bytecode = True
LATER = {}

# @include deploy/bundlecheck.py
# @include deploy/templates/_image.py
# @include deploy/templates/_main.py
# @include backends/ov_shared.py


def load(manifest, args):
    """A function from a batch to logits (in batches of 256), and the settings applied."""
    import numpy as np
    import openvino as ov

    threads, options, source = runtime_settings(manifest, args)
    # a bf16 bundle runs in bf16, as it was measured and gated; others as the target says
    precision = options.get("inference_precision") or "f32"
    if manifest["precision"] == "bf16":
        precision = "bf16"
    hint = options.get("performance_hint") or "LATENCY"
    config = cpu_config(threads, hint, options.get("num_streams"), precision)
    core = ov.Core()
    model = core.read_model(os.path.join(HERE, manifest["artifact"]))
    compiled = core.compile_model(model, "CPU", config)
    shapes = StaticShapes(
        model, lambda m: core.compile_model(m, "CPU", config), compiled.create_infer_request()
    )

    def run(x):
        chunks = []
        for i in range(0, len(x), 256):
            part = np.ascontiguousarray(x[i : i + 256])
            chunks.append(shapes.request((part.shape,)).infer({0: part})[0])
        return np.concatenate(chunks)

    applied = {"runtime": "openvino", "source": source}
    keys = ("INFERENCE_NUM_THREADS", "PERFORMANCE_HINT", "NUM_STREAMS", "INFERENCE_PRECISION_HINT")
    for key in keys:
        applied[key] = property_text(compiled.get_property(key))
    applied["threads"] = int(applied["INFERENCE_NUM_THREADS"])
    return run, applied


if __name__ == "__main__":
    main(__doc__, load, threads=True)

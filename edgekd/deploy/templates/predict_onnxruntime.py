"""Classify inputs with this bundle: top-k classes with probabilities. Needs numpy, onnxruntime.

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

# @requires onnxruntime
# @requires numpy>=1.24
# @readme-begin
# ## On a device
#
# ONNX Runtime installs from PyPI on Linux (x86-64 and aarch64, a Raspberry Pi 5 included),
# macOS and Windows: there, `pip install -r requirements.txt` and run predict.py as above.
# Without Python, the same artifact runs from ONNX Runtime's C, C++, Java or Objective-C API
# ([ONNX Runtime docs](https://onnxruntime.ai/docs/get-started/)): one float32 input of
# shape $input_shape, one output of $classes logits. A `model.ort` with
# `required_operators.config` is for ONNX Runtime Mobile, whose minimal build holds only
# those operators (`./build.sh --minimal_build --include_ops_by_config
# required_operators.config`).
# @readme-end
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


LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC",
          "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}  # fmt: skip
SPINNING = "session.intra_op.allow_spinning"


def session_options(ort, threads, options):
    """The session settings the bundle was measured with (runtime_settings in _main)."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    level = options.get("graph_optimization_level")
    if level in LEVELS:
        so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, LEVELS[level])
    if options.get("execution_mode") == "parallel":
        so.execution_mode = ort.ExecutionMode.ORT_PARALLEL
    if options.get("inter_op_threads"):
        so.inter_op_num_threads = int(options["inter_op_threads"])
    if "allow_spinning" in options:
        so.add_session_config_entry(SPINNING, "1" if options["allow_spinning"] else "0")
    return so


def load(manifest, args):
    """A function from a batch to logits (in batches of 256), and the settings applied."""
    import numpy as np
    import onnxruntime as ort

    threads, options, source = runtime_settings(manifest, args)
    path = os.path.join(HERE, manifest["artifact"])
    so = session_options(ort, threads, options)
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name

    def run(x):
        chunks = [sess.run(None, {name: x[i : i + 256]})[0] for i in range(0, len(x), 256)]
        return np.concatenate(chunks)

    applied = sess.get_session_options()
    return run, {
        "runtime": "onnxruntime",
        "source": source,
        "threads": applied.intra_op_num_threads,
        "graph_optimization_level": str(applied.graph_optimization_level).rsplit(".", 1)[-1],
        "allow_spinning": applied.get_session_config_entry(SPINNING) != "0"
        if "allow_spinning" in options
        else None,
    }


if __name__ == "__main__":
    main(__doc__, load, threads=True)

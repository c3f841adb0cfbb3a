"""Classify inputs with this bundle: top-k classes with probabilities. Needs numpy, tensorrt,
cuda-python.

    bash build_engine.sh                      # once, on the device: builds model.engine
    python predict.py x.npy [more.npy ...] [--top-k K] [--json]
    python predict.py photo.jpg ...          # where the bundle records image preprocessing
    python predict.py x_test.npy --labels y_test.npy
    python predict.py --check
    python predict.py --print-settings     # the runtime settings it loads with (JSON)

An .npy file holds one sample or a batch. Prints one line per input with its top-k classes
and probabilities (--json: one JSON object per line), or with --labels only the accuracy.
Before numpy, the runtime or the engine is touched, every file is checked against
manifest.json by the same code as `edgekd verify` (copied in below, with the engine runner of
trt_engine.py), and nothing in this bundle's folder is ever imported. Exit status 2: the
bundle or the input was refused. UNTESTED ON HARDWARE by edgekd's own tests (no GPU in CI).
"""

# @requires tensorrt>=10
# @requires cuda-python>=12
# @requires numpy>=1.24
# @readme-begin
# ## On the device: build the engine first
#
# A TensorRT engine is built for one GPU and one TensorRT version, so it is built on the
# device itself: `bash build_engine.sh` writes `model.engine` beside the ONNX file (the one
# file a bundle may gain after it was written; manifest.json names it under
# `built_on_device`). On a Jetson, TensorRT and CUDA come with JetPack: do not pip install
# `tensorrt` there; install only `cuda-python` and numpy. This bundle was not run on
# TensorRT hardware by edgekd's tests.
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
# @include backends/trt_engine.py


def load(manifest, args):
    """The engine's logits for a batch (in batches of at most `max_batch`), and its
    settings."""
    engine = os.path.join(HERE, "model.engine")
    if not os.path.isfile(engine):
        fail("model.engine is missing; build it on this device: bash build_engine.sh")
    options = manifest.get("target_config", {}).get("runtime_options", {})
    batch = int(options.get("max_batch", 256))
    return EngineRunner(engine, batch), {"runtime": "tensorrt", "max_batch": batch}


if __name__ == "__main__":
    main(__doc__, load)

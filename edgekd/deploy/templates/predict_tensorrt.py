"""Classify inputs from an .npy file with this bundle. Needs numpy, tensorrt, cuda-python.

    bash build_engine.sh                      # once, on the device: builds model.engine
    python predict.py inputs.npy [--labels labels.npy]
    python predict.py --check

Prints one JSON line per input ({"index", "class", "label"}), or with --labels only the
accuracy. Before numpy, the runtime or the engine is touched, every file is checked against
manifest.json by the same code as `edgekd verify` (copied in below, with the engine runner of
trt_engine.py), and nothing in this bundle's folder is ever imported. Exit status 2: the
bundle or the input was refused. UNTESTED ON HARDWARE by edgekd's own tests (no GPU in CI).
"""

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
# @include deploy/templates/_main.py
# @include backends/trt_engine.py


def classify(manifest, x, args):
    engine = os.path.join(HERE, "model.engine")
    if not os.path.isfile(engine):
        fail("model.engine is missing; build it on this device: bash build_engine.sh")
    options = manifest.get("target_config", {}).get("runtime_options", {})
    return EngineRunner(engine, int(options.get("max_batch", 256)))(x).argmax(1)


if __name__ == "__main__":
    main(__doc__, classify)

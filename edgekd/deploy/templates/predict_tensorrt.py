"""Classify inputs from an .npy file with this bundle. Needs numpy, tensorrt, cuda-python.

    bash build_engine.sh                      # once, on the device: builds model.engine
    python predict.py inputs.npy [--labels labels.npy]

Prints one JSON line per input ({"index", "class", "label"}), or with --labels only the
accuracy. The bundle's files are checked against manifest.json before anything is loaded.
UNTESTED ON HARDWARE by edgekd's own tests (no GPU in CI).
"""

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def verify(manifest):
    for name, digest in manifest["files"].items():
        if name == "predict.py":
            continue
        if hashlib.sha256((HERE / name).read_bytes()).hexdigest() != digest:
            sys.exit(f"error: {name} does not match manifest.json; refusing to load it.")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs")
    ap.add_argument("--labels")
    args = ap.parse_args()
    manifest = json.loads((HERE / "manifest.json").read_text())
    verify(manifest)
    engine = HERE / "model.engine"
    if not engine.is_file():
        sys.exit("error: model.engine is missing; build it on this device: bash build_engine.sh")
    sys.path.insert(0, str(HERE))
    sys.dont_write_bytecode = True  # no __pycache__ inside the verified bundle
    from trt_engine import EngineRunner

    x = np.load(args.inputs, allow_pickle=False).astype(np.float32)
    if x.shape == tuple(manifest["input"]["shape"][1:]):
        x = x[None]
    options = manifest.get("target_config", {}).get("runtime_options", {})
    run = EngineRunner(str(engine), int(options.get("max_batch", 256)))
    pred = run(x).argmax(1)
    if args.labels:
        y = np.load(args.labels, allow_pickle=False)
        print(json.dumps({"accuracy": float((pred == y).mean()), "n": int(len(y))}))
        return
    for i, c in enumerate(pred):
        print(json.dumps({"index": i, "class": int(c), "label": manifest["labels"][int(c)]}))


if __name__ == "__main__":
    main()

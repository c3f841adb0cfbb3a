"""Classify inputs from an .npy file with this bundle. Needs only numpy and openvino.

    python predict.py inputs.npy [--labels labels.npy] [--threads N]

Prints one JSON line per input ({"index", "class", "label"}), or with --labels only the
accuracy. The bundle's files are checked against manifest.json before the model is loaded.
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
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    manifest = json.loads((HERE / "manifest.json").read_text())
    verify(manifest)
    import openvino as ov

    x = np.load(args.inputs, allow_pickle=False).astype(np.float32)
    if x.shape == tuple(manifest["input"]["shape"][1:]):
        x = x[None]
    config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
    if args.threads:
        config["INFERENCE_NUM_THREADS"] = args.threads
    compiled = ov.Core().compile_model(str(HERE / manifest["artifact"]), "CPU", config)
    request = compiled.create_infer_request()
    pred = np.concatenate(
        [request.infer({0: x[i : i + 256]})[0].argmax(1) for i in range(0, len(x), 256)]
    )
    if args.labels:
        y = np.load(args.labels, allow_pickle=False)
        print(json.dumps({"accuracy": float((pred == y).mean()), "n": int(len(y))}))
        return
    for i, c in enumerate(pred):
        print(json.dumps({"index": i, "class": int(c), "label": manifest["labels"][int(c)]}))


if __name__ == "__main__":
    main()

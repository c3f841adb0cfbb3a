"""Classify inputs from an .npy file with this bundle. Needs only numpy and executorch.

    python predict.py inputs.npy [--labels labels.npy]

Prints one JSON line per input ({"index", "class", "label"}), or with --labels only the
accuracy. The bundle's files are checked against manifest.json before the model is loaded.
The .pte was exported with a dynamic batch of at most `max_batch` (see manifest.json).
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
    import torch  # the ExecuTorch Python runtime exchanges torch tensors
    from executorch.runtime import Runtime

    x = np.load(args.inputs, allow_pickle=False).astype(np.float32)
    if x.shape == tuple(manifest["input"]["shape"][1:]):
        x = x[None]
    options = manifest.get("target_config", {}).get("runtime_options", {})
    batch = int(options.get("max_batch", 256))
    method = Runtime.get().load_program(str(HERE / manifest["artifact"])).load_method("forward")
    pred = np.concatenate(
        [
            method.execute([torch.from_numpy(np.ascontiguousarray(x[i : i + batch]))])[0]
            .numpy()
            .argmax(1)
            for i in range(0, len(x), batch)
        ]
    )
    if args.labels:
        y = np.load(args.labels, allow_pickle=False)
        print(json.dumps({"accuracy": float((pred == y).mean()), "n": int(len(y))}))
        return
    for i, c in enumerate(pred):
        print(json.dumps({"index": i, "class": int(c), "label": manifest["labels"][int(c)]}))


if __name__ == "__main__":
    main()

"""Profile the same artifact locally and through a real OpenSSH server on 127.0.0.1 (this
machine, started for the run), alternating; the remote p50 should be within +-20% of local.

    .venv/bin/python benchmarks/ssh_loopback.py [--model cnn1d] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # helpers.sshd


def main() -> int:
    from _models import MODELS, export
    from helpers.sshd import LoopbackSshd, sshd_available

    from edgekd.config.schema import ProfileConfig, SshConfig, TargetConfig
    from edgekd.profile.isolate import profile_artifact
    from edgekd.profile.protocol import make_spec

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=sorted(MODELS), default="cnn1d")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("runs/benchmarks/ssh_loopback.json"))
    args = ap.parse_args()
    if (why := sshd_available()) is not None:
        print(f"cannot run: {why}")
        return 2
    profile = ProfileConfig(min_queries=1024, min_time_s=1.0, layers=False)
    target = TargetConfig(name="loopback", runtime="onnxruntime", threads=args.threads)
    local, remote = [], []
    with tempfile.TemporaryDirectory() as tmp, LoopbackSshd(Path(tmp)) as sshd:
        onnx_path, shape, _ = export(args.model, Path(tmp) / "m")
        spec = make_spec(
            onnx_path.parent, "model.onnx", target, profile, shape, files=["model.onnx"]
        )
        ssh = SshConfig(known_hosts=sshd.known_hosts, identity=sshd.identity, python=sys.executable)
        for _ in range(args.rounds):
            local.append(profile_artifact(spec)["latency"])
            remote.append(profile_artifact(spec, sshd.url, ssh)["latency"])
    out = {"model": args.model, "threads": args.threads}
    for key in ("p50_ms", "p90_ms", "p99_ms"):
        lo = statistics.median(r[key] for r in local)
        re_ = statistics.median(r[key] for r in remote)
        out[key] = {"local": lo, "remote": re_, "ratio": re_ / lo}
        print(f"{key}: local {lo:.4f} ms, via sshd {re_:.4f} ms, ratio {re_ / lo:.3f}")
    ok = abs(out["p50_ms"]["ratio"] - 1) <= 0.20
    print(f"p50 {'within' if ok else 'OUTSIDE'} +-20% ({args.rounds} alternating rounds)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out | {"within_20pct": ok, "local": local, "remote": remote},
                                   indent=2))  # fmt: skip
    print(f"wrote {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

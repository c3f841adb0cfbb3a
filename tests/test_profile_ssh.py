"""Remote profiling through a real OpenSSH server started on 127.0.0.1 (not a mock).

The 'remote' is this machine, so the host runs the worker with this venv's python. The test
generates a host key and a user key, writes an sshd_config and a known_hosts in tmp.
"""

from __future__ import annotations

import json
import socket
import sys
import threading

import numpy as np
import pytest
from helpers.sshd import LoopbackSshd, free_port, sshd_available

from edgekd.config.schema import ProfileConfig, SshConfig, TargetConfig
from edgekd.profile.isolate import profile_artifact
from edgekd.profile.protocol import make_spec
from edgekd.profile.remote import RemoteError, parse_host

pytestmark = [
    pytest.mark.skipif(sshd_available() is not None, reason=str(sshd_available())),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]
PROFILE = ProfileConfig(tier="quick", warmup=20, min_queries=400, layer_runs=3)


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    with LoopbackSshd(tmp_path_factory.mktemp("ssh")) as server:
        yield server


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    import torch

    folder = tmp_path_factory.mktemp("model")
    net = torch.nn.Sequential(
        torch.nn.Conv1d(1, 32, 5, padding=2),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(32 * 40, 10),
    ).eval()
    torch.onnx.export(
        net,
        torch.zeros(1, 1, 40),
        str(folder / "model.onnx"),
        input_names=["input"],
        dynamic_axes={"input": {0: "n"}},
        dynamo=False,
    )
    x = np.random.default_rng(0).standard_normal((64, 1, 40)).astype(np.float32)
    np.savez(folder / "data.npz", x_test=x, y_test=np.zeros(64, dtype=np.int64))
    return folder


def spec_for(folder, **kw):
    target = TargetConfig(name="loopback", runtime="onnxruntime", threads=1)
    return make_spec(folder, "model.onnx", target, PROFILE, [1, 40], files=["model.onnx"], **kw)


def opts(sshd, **kw) -> SshConfig:
    base = {"known_hosts": sshd.known_hosts, "identity": sshd.identity, "python": sys.executable}
    return SshConfig(**(base | kw))


def test_profile_through_real_sshd_matches_local(sshd, model_dir):
    data = model_dir / "data.npz"
    local = profile_artifact(spec_for(model_dir, data_npz=data))
    remote = profile_artifact(spec_for(model_dir, data_npz=data), sshd.url, opts(sshd))
    assert remote["source"] == "measured-remote" and local["source"] == "measured-local"
    assert remote["acc_artifact"] == local["acc_artifact"]  # same artifact, same test split
    assert remote["layers"]["top"] and remote["environment"]["torch_loaded"] is False
    ratio = remote["latency"]["p50_ms"] / local["latency"]["p50_ms"]
    # the benchmark (benchmarks/ssh_loopback.py) checks +-20%; the CPU is shared, so loosely here
    assert 0.5 < ratio < 2.0, ratio


def test_unknown_host_key_is_refused(sshd, model_dir, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(RemoteError, match="host key unknown"):
        profile_artifact(spec_for(model_dir), sshd.url, opts(sshd, known_hosts=empty))


def test_changed_host_key_is_refused(sshd, model_dir, tmp_path):
    other = tmp_path / "known_hosts"
    line = sshd.known_hosts.read_text().split()
    import subprocess

    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")], check=True
    )
    fake = (tmp_path / "k.pub").read_text().split()[:2]
    other.write_text(f"{line[0]} {' '.join(fake)}\n")
    with pytest.raises(RemoteError, match="does not match"):
        profile_artifact(spec_for(model_dir), sshd.url, opts(sshd, known_hosts=other))


def test_refused_auth_is_a_clear_error(sshd, model_dir, tmp_path):
    import subprocess

    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")], check=True
    )
    with pytest.raises(RemoteError, match="authentication refused"):
        profile_artifact(spec_for(model_dir), sshd.url, opts(sshd, identity=tmp_path / "k"))


def test_unreachable_host_is_a_clear_error(model_dir, sshd):
    url = f"ssh://nobody@127.0.0.1:{free_port()}"
    with pytest.raises(RemoteError, match="unreachable"):
        profile_artifact(spec_for(model_dir), url, opts(sshd))


def test_silent_host_times_out(model_dir, sshd):
    """A port that accepts the TCP connection but never speaks SSH."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    held = []
    threading.Thread(target=lambda: held.append(srv.accept()), daemon=True).start()
    try:
        with pytest.raises(RemoteError, match="timed out"):
            profile_artifact(
                spec_for(model_dir), f"ssh://x@127.0.0.1:{port}", opts(sshd, connect_timeout_s=1.0)
            )
    finally:
        srv.close()


def test_host_urls_are_checked():
    assert parse_host("ssh://pi@raspberry:2222").port == 2222
    assert parse_host("ssh://raspberry").user is None
    for bad in ("pi@raspberry", "ssh://", "http://x", "ssh://a:notaport"):
        with pytest.raises(RemoteError, match="not an SSH address"):
            parse_host(bad)


def test_cli_profile_with_host(sshd, model_dir, cli):
    res = cli(
        "profile",
        model_dir / "model.onnx",
        "--tier",
        "quick",
        "--threads",
        "1",
        "--host",
        sshd.url,
        "--known-hosts",
        sshd.known_hosts,
        "--identity",
        sshd.identity,
        "--remote-python",
        sys.executable,
        "--json",
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["latency_source"] == "measured-remote" and out["host"] == sshd.url
    bad = cli(
        "profile",
        model_dir / "model.onnx",
        "--tier",
        "quick",
        "--host",
        sshd.url,
        "--known-hosts",
        model_dir / "nonexistent",
    )
    assert bad.returncode == 2 and "host key unknown" in bad.stderr
    assert "Traceback" not in bad.stderr

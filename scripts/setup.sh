#!/usr/bin/env bash
# Create .venv and install edgekd with every runtime that installs from PyPI here.
# torch is installed first, pinned, so pip never pulls a multi-GB CUDA build on a CPU machine;
# set TORCH_SPEC (e.g. TORCH_SPEC="torch" on a CUDA machine) to choose another build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# Test-only system packages: a real OpenSSH server (remote profiling tests) and a headless
# browser (report.html render test). Installed when missing and apt-get can run.
missing=()
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v chromium >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  { $SUDO apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null; } ||
    echo "warning: could not install ${missing[*]}; the tests that need them will be skipped" >&2
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "${TORCH_SPEC:-torch==2.13.0}"
.venv/bin/python -m pip install -q -e ".[dev,openvino,executorch,report]"
echo "edgekd installed in .venv ($(.venv/bin/edgekd --version))"
# Every backend's runtime comes from the extras above (ONNX Runtime incl. its quantization and
# .ort tools, OpenVINO + NNCF, ExecuTorch + torchao); TensorRT needs an NVIDIA GPU or a Jetson
# and is not installed here. Show what is installed:
.venv/bin/edgekd doctor

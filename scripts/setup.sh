#!/usr/bin/env bash
# Create .venv and install edgekd with every runtime that installs from PyPI here.
# torch is installed first, pinned, so pip never pulls a multi-GB CUDA build on a CPU machine;
# set TORCH_SPEC (e.g. TORCH_SPEC="torch" on a CUDA machine) to choose another build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "${TORCH_SPEC:-torch==2.13.0}"
.venv/bin/python -m pip install -q -e ".[dev,openvino,executorch,report]"
echo "edgekd installed in .venv ($(.venv/bin/edgekd --version))"
# Every backend's runtime comes from the extras above (ONNX Runtime incl. its quantization and
# .ort tools, OpenVINO + NNCF, ExecuTorch + torchao); TensorRT needs an NVIDIA GPU or a Jetson
# and is not installed here. Show what is installed:
.venv/bin/edgekd doctor

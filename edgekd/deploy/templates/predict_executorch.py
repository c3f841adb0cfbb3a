"""Classify inputs with this bundle: top-k classes with probabilities. Needs numpy, executorch.

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
The .pte was exported with a dynamic batch of at most `max_batch` (see manifest.json).
This script is for a desktop or a Linux board; README.md shows ExecuTorch's C++ runtime.
"""

# @requires executorch
# @requires torch
# @requires numpy>=1.24
# @readme-begin
# ## On a device without Python: ExecuTorch's C++ runtime
#
# A phone or a microcontroller has no Python: there the .pte runs in ExecuTorch's C++
# runtime, built with the XNNPACK backend (this program delegates its ops to XNNPACK) and the
# portable kernels (for any op left outside the delegate). Build it from the ExecuTorch
# release that exported the .pte (executorch $executorch_version, see requirements.txt).
#
# A first check with ExecuTorch's reference runner, which feeds inputs of ones
# ([Using ExecuTorch with C++](https://docs.pytorch.org/executorch/stable/using-executorch-cpp.html),
# [XNNPACK example](https://github.com/pytorch/executorch/tree/main/examples/xnnpack)):
#
# ```bash
# git clone -b release/$executorch_series https://github.com/pytorch/executorch.git && cd executorch
# cmake -DCMAKE_BUILD_TYPE=Release -DEXECUTORCH_BUILD_XNNPACK=ON \
#       -DEXECUTORCH_BUILD_EXTENSION_MODULE=ON -DEXECUTORCH_BUILD_EXTENSION_DATA_LOADER=ON \
#       -DEXECUTORCH_BUILD_EXTENSION_TENSOR=ON -Bcmake-out .
# cmake --build cmake-out -j --target executor_runner
# ./cmake-out/executor_runner --model_path /path/to/$artifact
# ```
#
# For Android, configure the same build with the NDK's toolchain
# (`-DCMAKE_TOOLCHAIN_FILE=$ANDROID_NDK/build/cmake/android.toolchain.cmake
# -DANDROID_ABI=arm64-v8a`), then `adb push` the runner and the .pte to `/data/local/tmp/`
# and run it there with `adb shell`.
#
# In an application, the Module API loads the .pte and runs it on one preprocessed sample
# (see "Preprocessing" above; input $input_shape float32, output $classes logits):
#
# ```cpp
# #include <executorch/extension/module/module.h>
# #include <executorch/extension/tensor/tensor.h>
#
# using namespace ::executorch::extension;
#
# Module module("/path/to/$artifact");
# std::vector<float> input($numel);  // one sample, preprocessed as above
# auto tensor = from_blob(input.data(), {$cpp_shape});
# const auto result = module.forward(tensor);
# if (result.ok()) {
#   const float* logits = result->at(0).toTensor().const_data_ptr<float>();  // $classes scores
# }
# ```
#
# Link the `executorch` target with `executorch::backends`, `executorch::extensions` and
# `executorch::kernels` (CMake). On Android the ExecuTorch AAR gives the same from Java or
# Kotlin: `Module.load(path)`, then `module.forward(EValue.from(Tensor.fromBlob(data, shape)))`
# ([Using ExecuTorch on Android](https://docs.pytorch.org/executorch/stable/using-executorch-android.html)).
# Latency measured here on x86 XNNPACK is not the phone's: measure on the device.
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


def runtime():
    """ExecuTorch's compiled runtime and nothing more. `executorch.runtime` (and its
    `portable_lib`) import `executorch.exir`, the whole export stack, for one warning class:
    seconds and about 130 MB before the first inference. The extension itself needs torch,
    only because it exchanges torch tensors."""
    import torch

    try:
        from executorch.extension.pybindings import _C as et
    except ImportError:  # a layout without the bare extension: the documented module
        from executorch.extension.pybindings import portable_lib as et
    return torch, et


def load(manifest, args):
    """A function from a batch to logits (in batches of at most `max_batch`), and the
    settings applied (XNNPACK's threadpool size as the runtime reports it)."""
    import numpy as np

    torch, et = runtime()
    threads, options, source = runtime_settings(manifest, args)
    if threads:
        et._unsafe_reset_threadpool(threads)
    batch = int(options.get("max_batch", 256))
    path = os.path.join(HERE, manifest["artifact"])
    check = et.Verification.InternalConsistency
    method = et._load_program(path, program_verification=check).load_method("forward")

    def run(x):
        chunks = [
            method([torch.from_numpy(np.ascontiguousarray(x[i : i + batch]))])[0].numpy()
            for i in range(0, len(x), batch)
        ]
        return np.concatenate(chunks)

    pool = getattr(et, "_threadpool_get_thread_count", None)
    applied = {"runtime": "executorch", "source": source, "max_batch": batch}
    applied["threads"] = int(pool()) if pool is not None else threads
    return run, applied


if __name__ == "__main__":
    main(__doc__, load, threads=True)

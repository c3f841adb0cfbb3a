"""After OpenVINO compiles in a process, the next signal handled in Python (SIGCHLD when a
DataLoader worker or a profiling worker exits) must not kill the process.

Before edgekd/backends/sigstack.py, a pipeline with an OpenVINO int8 target (a user's CNN on
40x40 images) died with SIGSEGV right after `compile-teacher-cpu-openvino-int8`, and the test
suite died with exit 139 in a DataLoader test after in-process OpenVINO tests: OpenVINO's CPU
plugin left the main thread's alternate signal stack pointing at freed memory. Every pipeline
test with an OpenVINO int8 target runs through the compile-stage guard as well.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

IN_PROCESS = """
import faulthandler, gc, subprocess, sys
faulthandler.enable()  # as pytest does: a Python-owned alternate stack to start from
import numpy as np, torch, openvino as ov
from openvino import opset13 as op
from edgekd.backends.openvino import Options, OvRunner
p = op.parameter([1, 4], np.float32)
ov.save_model(ov.Model([op.relu(p)], [p]), sys.argv[1])
list(torch.utils.data.DataLoader(torch.zeros(4, 2), batch_size=2, num_workers=1))
a = OvRunner(sys.argv[1], 1, Options())
b = OvRunner(sys.argv[1], 1, Options())
a(np.zeros((1, 4), np.float32)); b(np.zeros((1, 4), np.float32))
del a; gc.collect()
del b; gc.collect()  # the plugin puts back the stack it saw when b compiled
for _ in range(3):
    subprocess.run(["true"], check=True)  # SIGCHLD: torch's Python handler runs
print("survived")
"""


def test_runners_destroyed_out_of_order_then_signals(tmp_path):
    """The CI crash (exit 139 in the test after an in-process OpenVINO test): two runners,
    destroyed in the order they were made, leave the thread's alternate stack at the first
    one's freed memory unless edgekd's own stack was current when each compiled. Without the
    guard in OvRunner this script died with SIGSEGV every time."""
    script = tmp_path / "signals.py"
    script.write_text(textwrap.dedent(IN_PROCESS))
    res = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "m.xml")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0 and "survived" in res.stdout, (res.returncode, res.stderr[-1500:])

"""Interleaved latency rounds across the artifacts of one target, each in its own process.

The isolation model stays: one fresh worker process per artifact, so no two runtimes (or
two artifacts) share thread pools, allocators or a peak-memory figure. What changes is
when each measures: the workers are started one after another (so load times do not
overlap), kept warm, and told to run one latency round each in turn — round 1 of A, B, C,
then round 2 of A, B, C, ... — so a burst of other work on the machine lands in one round
of several artifacts instead of in every query of one. Then each finishes alone
(throughput, accuracy, memory, layers). At most `GROUP` workers are alive at once; larger
targets are interleaved group by group. Only local workers are interleaved: an SSH host
runs each artifact's rounds back to back in one worker (`measure` mode).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from pathlib import Path

from edgekd.errors import EdgeKDError
from edgekd.fsutil import temp_dir
from edgekd.profile.protocol import PARENT_ENV, ProfileSpec, read_result
from edgekd.profile.serve import FINISH, READY, ROUND
from edgekd.records import LatencySource

GROUP = 8  # warm workers at once: each holds its runtime and artifact in memory


class ServeWorker:
    """One artifact's worker in serve mode, driven over its stdin and stdout."""

    def __init__(self, spec: ProfileSpec, folder: Path):
        folder.mkdir()
        self.spec, self.out = spec, folder / "result.json"
        spec_path = folder / "spec.json"
        served = spec.model_copy(update={"out": str(self.out), "mode": "serve"})
        spec_path.write_text(served.to_json())
        self.stderr_path = folder / "stderr.txt"
        with open(self.stderr_path, "w") as err:  # a file: a chatty runtime cannot block
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "edgekd.profile.worker", str(spec_path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env=os.environ | {PARENT_ENV: str(os.getpid())},
            )
        try:
            self.expect(READY)
        except BaseException:
            self.stop()
            raise

    def expect(self, state: str) -> dict:
        """The worker's next answer, which must be `state`; its error if it died instead."""
        timeout = self.spec.profile.timeout_s
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not ready:
            self.proc.kill()
            raise EdgeKDError(
                f"profiling '{self.spec.artifact_dir}' took longer than profile.timeout_s="
                f"{timeout:g}s and was stopped. Raise timeout_s or use tier: quick."
            )
        if not line:  # it exited: its result file or exit status says why
            self.proc.wait()
            self.result()
        answer = json.loads(line)
        if answer.get("state") != state:
            raise EdgeKDError(f"profiling worker answered {answer!r}, expected '{state}'")
        return answer

    def command(self, word: str) -> None:
        self.proc.stdin.write(word + "\n")
        self.proc.stdin.flush()

    def round(self) -> dict:
        self.command(ROUND)
        return self.expect(ROUND)

    def finish(self) -> dict:
        self.command(FINISH)
        self.proc.stdin.close()
        try:
            self.proc.wait(self.spec.profile.timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.result()

    def result(self) -> dict:
        return read_result(self.out, self.proc.wait(), self.stderr_path.read_text(), "here")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def profile_interleaved(specs: list[ProfileSpec]) -> list[dict]:
    """Each spec measured here, its latency rounds interleaved with the others' (results in
    the order of `specs`, `source` measured-local)."""
    if sys.platform == "win32":  # select() takes no pipes there: one artifact at a time
        from edgekd.profile.isolate import profile_artifact

        return [profile_artifact(s) for s in specs]
    results = []
    for i in range(0, len(specs), GROUP):
        results += _group(specs[i : i + GROUP])
    return [r | {"source": LatencySource.MEASURED_LOCAL.value} for r in results]


def _group(specs: list[ProfileSpec]) -> list[dict]:
    workers: list[ServeWorker] = []
    with temp_dir("profile") as tmp:
        try:
            for i, spec in enumerate(specs):  # one at a time: load times never overlap
                workers.append(ServeWorker(spec, tmp / str(i)))
            for r in range(max(s.profile.rounds for s in specs)):
                for w in workers if r % 2 == 0 else workers[::-1]:
                    if r < w.spec.profile.rounds:
                        w.round()
            return [w.finish() for w in workers]
        finally:
            for w in workers:
                w.stop()

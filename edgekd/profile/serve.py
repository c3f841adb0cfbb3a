"""A worker's side of interleaved rounds: load once, then run a latency round when told.

In serve mode (`ProfileSpec.mode == "serve"`) the worker loads its artifact, runs the first
inference and the warm-up, says `ready`, and then reads one command per line on stdin:
`round` (run one round, answer with its p90) or `finish` (go on to throughput, accuracy,
memory and layers, and write the result file as any worker does). The coordinator
(`edgekd.profile.interleave`) keeps one such worker per artifact of a target warm and sends
`round` to each in turn, so every artifact's rounds are spread over the same stretch of time.
Anything else the process prints goes to stderr: stdout carries only the answers.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import IO

from edgekd.config.schema import ProfileConfig
from edgekd.profile.latency import RoundPlan, measure_round, warm_start
from edgekd.profile.rounds import latency_result, round_p

READY, ROUND, FINISH = "ready", "round", "finish"


class Channel:
    """Commands in, one JSON answer per line out."""

    def __init__(self, commands: IO[str], answers: IO[str]):
        self.commands, self.answers = commands, answers

    @classmethod
    def over_stdio(cls) -> Channel:
        """stdin for commands; a private copy of stdout for answers, with fd 1 pointed at
        stderr so that a runtime's own prints cannot corrupt the answers."""
        sys.stdout.flush()
        answers = os.fdopen(os.dup(1), "w", buffering=1)
        os.dup2(2, 1)
        return cls(sys.stdin, answers)

    def send(self, **answer) -> None:
        self.answers.write(json.dumps(answer) + "\n")
        self.answers.flush()

    def receive(self) -> str:
        """The next command; end of input means finish (the coordinator is gone or done)."""
        return self.commands.readline().strip() or FINISH


def serve_rounds(run, sample, cfg: ProfileConfig, channel: Channel) -> dict:
    """Rounds as the coordinator asks for them; `profile.rounds` back to back if it asked
    for none before `finish`."""
    first_ms = warm_start(run, sample, cfg.warmup)
    channel.send(state=READY, first_inference_ms=first_ms)
    plan, rounds, busy = RoundPlan.of(cfg), [], 0.0
    while channel.receive() == ROUND:  # idle since its last round: always re-warm
        t0 = time.perf_counter()
        rounds.append(measure_round(run, sample, plan))
        busy += time.perf_counter() - t0
        channel.send(state=ROUND, index=len(rounds), p90_ms=round_p(rounds[-1], 90))
    interleaved = bool(rounds)
    while len(rounds) < cfg.rounds:  # told to finish early: this artifact alone
        t0 = time.perf_counter()
        rounds.append(measure_round(run, sample, plan, rewarm=bool(rounds)))
        busy += time.perf_counter() - t0
    return latency_result(rounds, first_ms, busy, interleaved=interleaved)

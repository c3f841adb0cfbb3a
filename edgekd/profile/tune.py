"""Tuning: measure the settings a backend declares worth trying, keep the fastest.

Runs in a worker of its own (`ProfileSpec.mode == "tune"`), before the artifact's full
measurement, on the machine that measures (here or the SSH host: the thread ceiling is the
CPUs there). Every candidate of `Backend.tuning_space` is loaded side by side in this one
process, then screened in `tune.rounds` short rounds that visit the candidates in turn
(alternating the order), each round a share of `tune.budget_s`. A candidate's figure is
the median of its round p90s, so a burst of other work that hits one round of one
candidate does not decide; the fastest wins, ties to the earlier (the target's own settings
come first). The winner is then measured in full, in a fresh worker, like any artifact.
Nothing here knows what a setting means: the backend applies it (`with_settings`).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from edgekd.errors import EdgeKDError
from edgekd.profile.feeds import inputs_checked, load_data, sample_input
from edgekd.profile.latency import REWARM, RoundPlan, measure_round, warm_start
from edgekd.profile.limits import available_cpus
from edgekd.profile.protocol import TUNE_SCHEMA, ProfileSpec
from edgekd.profile.rounds import round_p
from edgekd.records import RuntimeSettings

SCREEN_QUERIES = 20  # at least, per candidate and round (a round may end at its time cap)
SCREEN_WARMUP = 20  # untimed queries per candidate after its first inference


def choose(round_p90s: list[list[float]]) -> int:
    """The index of the fastest candidate: the lowest median of its round p90s (ties: the
    earlier candidate)."""
    medians = [statistics.median(r) for r in round_p90s]
    return min(range(len(medians)), key=lambda i: (medians[i], i))


class Candidate:
    """One setting of the tuning space and its runner. A backend with one thread pool per
    process (`Backend.process_thread_pool`) cannot keep two loaded: its candidates are
    loaded for each visit and dropped after it."""

    def __init__(self, backend, settings: RuntimeSettings, folder: Path, sample):
        self.settings, self.sample, self.folder = settings, sample, folder
        self.backend = backend.with_settings(settings)
        self.keep = not backend.process_thread_pool
        self.runner, self.load_ms = None, 0.0

    def open(self, warmup: int = 0):
        """The runner, loaded (and warmed up) where it is not held."""
        if self.runner is None:
            t0 = time.perf_counter()
            self.runner = self.backend.load(self.folder)
            self.load_ms = (time.perf_counter() - t0) * 1e3
            warm_start(self.runner, self.sample, warmup)
        return self.runner

    def park(self) -> None:
        if not self.keep:
            self.runner = None


def screen(candidates: list[Candidate], budget_s: float, rounds: int) -> list[list[float]]:
    """Each candidate's p90 per round; the rounds visit every candidate in turn."""
    slice_s = budget_s / (rounds * len(candidates))
    plan = RoundPlan(queries=SCREEN_QUERIES, min_s=slice_s, max_s=2 * slice_s, rewarm=REWARM)
    p90s: list[list[float]] = [[] for _ in candidates]
    for r in range(rounds):
        order = range(len(candidates)) if r % 2 == 0 else range(len(candidates) - 1, -1, -1)
        for i in order:
            c = candidates[i]  # no reference to its runner outlives the visit
            p90s[i].append(round_p(measure_round(c.open(SCREEN_WARMUP), c.sample, plan), 90))
            c.park()
    return p90s


def tune(spec: ProfileSpec, backend) -> dict:
    """`backend`'s tuning space screened here; the winner and every candidate's figures."""
    space = backend.tuning_space(spec.precision)
    cfg = spec.profile
    head = {"schema": TUNE_SCHEMA, "threads": ceiling(spec, space)}
    if len(space) == 1:  # nothing to choose between: no time spent
        return head | {"tuned_settings": dump(space[0]), "candidates": [], "screen_s": 0.0}
    x, _ = load_data(spec)
    sample = sample_input(spec, x)
    loaded, rejected = load_candidates(backend, space, Path(spec.artifact_dir), spec, sample)
    if len(loaded) == 1:
        return head | {
            "tuned_settings": dump(loaded[0].settings),
            "candidates": [],
            "rejected": rejected,
        }
    t0 = time.perf_counter()
    with inputs_checked(spec):
        table = screen(loaded, cfg.tune_budget_s, cfg.tune.rounds)
    best = loaded[choose(table)].settings
    candidates = [
        {
            "settings": dump(c.settings),
            "load_ms": c.load_ms,
            "round_p90_ms": t,
            "p90_ms": statistics.median(t),
        }
        for c, t in zip(loaded, table)
    ]
    return head | {
        "tuned_settings": dump(best),
        "candidates": candidates,
        "rejected": rejected,
        "budget_s": cfg.tune_budget_s,
        "rounds": cfg.tune.rounds,
        "screen_s": time.perf_counter() - t0,
    }


def load_candidates(backend, space: list[RuntimeSettings], folder: Path, spec, sample):
    """The candidates that load and run (warmed up, then parked); a candidate the runtime
    refuses is left out with its reason, unless it is the default."""
    loaded, rejected = [], []
    for i, settings in enumerate(space):
        c = Candidate(backend, settings, folder, sample)
        try:
            with inputs_checked(spec):
                c.open(SCREEN_WARMUP)
        except EdgeKDError as exc:
            if i == 0:  # the target's own settings: the artifact itself is at fault
                raise
            rejected.append({"settings": dump(settings), "reason": str(exc)[:300]})
            continue
        c.park()
        loaded.append(c)
    return loaded, rejected


def ceiling(spec: ProfileSpec, space: list[RuntimeSettings]) -> dict:
    """What the target asked for and what this machine allowed: a phone's 4 threads on a
    2-CPU host are measured with at most 2, and the report says so."""
    return {
        "asked": spec.target.threads,
        "cpus": available_cpus(),
        "max_tried": max(s.threads for s in space),
    }


def dump(settings: RuntimeSettings) -> dict:
    return settings.model_dump(mode="json")

"""Content-addressed stage store: cache keys, atomic outputs, lineage.

A stage's folder is `stages/<label>-<key>` where the key hashes the stage kind, its config
(normalised: plugin options parsed, defaults filled in), its inputs' content hashes and the
source of the edgekd modules that stage runs (`edgekd.stages.STAGE_CODE` followed through
`edgekd.codegraph`), never the whole package: a report fix reuses every trained model.
Work happens in `stages/.partial-<label>-<key>` (kept across crashes so training can resume
from its checkpoints) and is renamed into place only when complete, with a `stage.json`
record of what produced it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import edgekd
from edgekd.codegraph import all_modules, code_hash
from edgekd.fsutil import write_json_atomic
from edgekd.hashing import sha256_dir, stable_hash, to_jsonable
from edgekd.stages import STAGE_CODE

RECORD = "stage.json"


@dataclass(frozen=True)
class StageResult:
    label: str
    path: Path
    content_hash: str
    record: dict
    cached: bool

    @property
    def info(self) -> dict:
        return self.record.get("info", {})


class StageStore:
    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.root = self.run_dir / "stages"

    def key(self, kind: str, config: Any, inputs: dict[str, str]) -> str:
        return stable_hash(
            {
                "kind": kind,
                "config": config,
                "inputs": inputs,
                "code": stage_code_hash(kind),
                "version": edgekd.__version__,
            }
        )[:16]

    def run(
        self,
        kind: str,
        label: str,
        config: Any,
        inputs: dict[str, StageResult | str],
        fn: Callable[[Path], dict],
    ) -> StageResult:
        """Return the cached output for this key, or run `fn(folder) -> info` and store it."""
        hit = self.cached(kind, label, config, inputs)
        if hit is not None:
            return hit
        input_hashes = _hashes(inputs)
        key = self.key(kind, config, input_hashes)
        final = self.root / f"{label}-{key}"
        partial = self.root / f".partial-{label}-{key}"
        partial.mkdir(parents=True, exist_ok=True)
        _clear_stale(partial)
        start = time.perf_counter()
        info = fn(partial)
        for leftover in partial.glob("resume-*"):
            leftover.unlink()
        record = {
            "kind": kind,
            "label": label,
            "key": key,
            "edgekd_version": edgekd.__version__,
            "config": to_jsonable(config),
            "inputs": input_hashes,
            "code_hash": stage_code_hash(kind),
            "content_hash": sha256_dir(partial),
            "seconds": round(time.perf_counter() - start, 3),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "info": to_jsonable(info),
        }
        write_json_atomic(partial / RECORD, record)
        try:
            os.rename(partial, final)
        except OSError:  # another process finished the same stage first: keep theirs
            shutil.rmtree(partial, ignore_errors=True)
            record = json.loads((final / RECORD).read_text())
        return StageResult(label, final, record["content_hash"], record, False)

    def cached(
        self, kind: str, label: str, config: Any, inputs: dict[str, StageResult | str]
    ) -> StageResult | None:
        """The finished output for this key, or None if the stage has to run."""
        final = self.root / f"{label}-{self.key(kind, config, _hashes(inputs))}"
        if not (final / RECORD).is_file():
            return None
        record = json.loads((final / RECORD).read_text())
        return StageResult(label, final, record["content_hash"], record, True)


def stage_code_roots(kind: str) -> tuple[str, ...]:
    """The modules whose code a stage of this kind runs; every module for an unknown kind."""
    return STAGE_CODE.get(kind) or tuple(all_modules())


def stage_code_hash(kind: str) -> str:
    return code_hash(stage_code_roots(kind))


def _hashes(inputs: dict[str, StageResult | str]) -> dict[str, str]:
    return {k: v.content_hash if isinstance(v, StageResult) else v for k, v in inputs.items()}


def _clear_stale(partial: Path) -> None:
    """Drop what a crashed attempt left in a partial folder, except its resume checkpoints."""
    for entry in partial.iterdir():
        if entry.name.startswith("resume-"):
            continue
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()

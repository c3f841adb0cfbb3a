"""The trial table of a recipe search: kept as trials run, replayed on resume, written out.

Trial k of a resumed search is answered from the saved table when it was already run, so a
seeded sampler that is told the same scores asks for the same next points, and the time
budget counts the seconds recorded for each trial, not the wall clock of this process.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from edgekd.errors import TrainingError
from edgekd.fsutil import write_json_atomic, write_text_atomic


class TrialBook:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.rows: list[dict] = json.loads(self.path.read_text()) if self.path.is_file() else []
        self.calls = 0

    def evaluate(self, point: dict, score: Callable[[dict, int], float]) -> dict:
        """The row of trial number `calls`: replayed, repeated (a point tried before is
        not trained again) or scored now by `score(point, k)`."""
        k, self.calls = self.calls, self.calls + 1
        if k < len(self.rows) and self.rows[k]["point"] == point:
            return self.rows[k]
        del self.rows[k:]  # a replay that differs: trust nothing after it
        earlier = next((r for r in self.rows if r["point"] == point), None)
        if earlier is not None:
            row = {"trial": k, "point": point, "val_acc": earlier["val_acc"], "seconds": 0.0}
            row["repeat_of"] = earlier["trial"]
        else:
            start = time.perf_counter()
            try:
                row = {"trial": k, "point": point, "val_acc": score(point, k)}
            except TrainingError as exc:  # e.g. diverged at a high weight: score it 0, go on
                row = {"trial": k, "point": point, "val_acc": 0.0, "failed": str(exc)}
            row["seconds"] = round(time.perf_counter() - start, 3)
        self.rows.append(row)
        write_json_atomic(self.path, self.rows)
        return row

    def spent(self) -> float:
        return sum(r["seconds"] for r in self.rows)

    def winner(self) -> dict | None:
        """The best validation accuracy; the earliest trial on a tie; None if all failed."""
        ok = [r for r in self.rows if "failed" not in r]
        return max(ok, key=lambda r: (r["val_acc"], -r["trial"])) if ok else None


def write_tables(folder: Path, rows: list[dict], winner: dict, cfg, sampler: str, train) -> None:
    """trials.json (everything) and trials.md (a table a reader scans) in `folder`."""
    doc = {
        "space": cfg.space.model_dump(mode="json", exclude_none=True),
        "sampler": sampler,
        "trials_limit": cfg.trials,
        "budget_s": cfg.budget_s,
        "trial_schedule": train.model_dump(mode="json"),
        "metric": "val_acc (validation split)",
        "rows": rows,
        "winner": winner,
    }
    write_json_atomic(Path(folder) / "trials.json", doc)
    write_text_atomic(Path(folder) / "trials.md", markdown(doc))


def markdown(doc: dict) -> str:
    keys = list(doc["rows"][0]["point"]) if doc["rows"] else []
    length = doc["trial_schedule"]
    schedule = f"{length['steps']} steps" if length.get("steps") else f"{length['epochs']} epochs"
    lines = [
        "# Recipe search",
        "",
        f"{len(doc['rows'])} trials ({doc['sampler']}), each distilled for {schedule} and "
        "scored by accuracy on the validation split (never the test split). The winner "
        "(**bold**) is then distilled with the full schedule.",
        "",
        "| trial | " + " | ".join(keys) + " | val_acc | seconds |",
        "|---" * (len(keys) + 3) + "|",
    ]
    for r in doc["rows"]:
        cells = [str(r["trial"]), *(str(r["point"][k]) for k in keys)]
        cells += [f"{r['val_acc']:.4f}", f"{r['seconds']:.1f}"]
        if "repeat_of" in r:
            cells[-1] = f"(as trial {r['repeat_of']})"
        if "failed" in r:
            cells[-2] = "failed"
        if r["trial"] == doc["winner"]["trial"]:
            cells = [f"**{c}**" for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"

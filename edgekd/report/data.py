"""The data a run was measured on, for the report: its content hash (to compare runs), split
sizes (for accuracy intervals) and test samples per class (for warnings and per-class
accuracy). Read from the data stage's folder, found through the trained models' records;
the report reads the stage's output, it is not a stage itself."""

from __future__ import annotations

import json
from pathlib import Path

from edgekd.report.model import DataSummary


def data_summary(run_dir: Path, models) -> DataSummary | None:
    """From the data stage the models were trained on; None when none can be found."""
    hashes = {m.stage.record.get("inputs", {}).get("data") for m in models} - {None}
    if len(hashes) != 1:
        return None
    (content_hash,) = hashes
    for record_path in sorted((Path(run_dir) / "stages").glob("data-*/stage.json")):
        record = json.loads(record_path.read_text())
        if record.get("content_hash") == content_hash:
            return summary_of(record_path.parent, record)
    return None


def summary_of(folder: Path, record: dict) -> DataSummary:
    info = record.get("info", {})
    labels = [str(x) for x in info.get("labels", [])]
    return DataSummary(
        content_hash=record.get("content_hash"),
        dataset=info.get("dataset"),
        sizes={k: int(v) for k, v in info.get("sizes", {}).items()},
        labels=labels,
        test_class_counts=test_class_counts(folder / "data.npz", len(labels)),
    )


def test_class_counts(npz: Path, num_classes: int) -> list[int] | None:
    if not npz.is_file() or num_classes <= 0:
        return None
    import numpy as np

    with np.load(npz, allow_pickle=False) as z:
        if "y_test" not in z.files:
            return None
        y = z["y_test"]
    return [int(c) for c in np.bincount(y, minlength=num_classes)[:num_classes]]

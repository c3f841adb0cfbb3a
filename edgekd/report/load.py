"""Read report.json back into a `Report`, migrating older schema versions on the way.

/1 (the first reports) listed target names and measured-row figures only; /2 added latency
and accuracy provenance, the Pareto flag and per-target summaries, with rows as loose dicts;
/3 is the typed `Report`; /4 adds the objective, per-target decisions, accuracy intervals,
the data summary, KD verdicts and warnings (all optional, so a /3 report reads as is).
Anything else (not JSON, not a report, a newer schema) is an ArtifactError that says what
to do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from edgekd.errors import ArtifactError
from edgekd.report.model import SCHEMA, Report

V1, V2, V3 = "edgekd.report/1", "edgekd.report/2", "edgekd.report/3"
READABLE = (V1, V2, V3, SCHEMA)


MAX_BYTES = 256 << 20  # far above any real report; a larger file is not one


def load_report(run_dir: Path) -> Report:
    path = Path(run_dir) / "report.json"
    if not path.is_file():
        raise ArtifactError(f"'{run_dir}' has no report.json. Run `edgekd run PIPELINE` first.")
    with open(path, "rb") as f:
        raw = f.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise ArtifactError(
            f"'{path}' is larger than {MAX_BYTES >> 20} MiB, so it is not an edgekd report; "
            "rerun the pipeline to rebuild it."
        )
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError, deep nesting
        raise ArtifactError(f"'{path}' is not valid JSON; rerun the pipeline.") from None
    return parse_report(data, str(path))


def parse_report(data: Any, where: str) -> Report:
    """A report document of any readable schema as a `Report`."""
    schema = data.get("schema") if isinstance(data, dict) else None
    if not isinstance(schema, str) or schema not in READABLE:
        newer = isinstance(schema, str) and schema.startswith("edgekd.report/")
        why = (
            "a newer edgekd wrote it; upgrade edgekd or" if newer else "it is not an edgekd report;"
        )
        raise ArtifactError(
            f"'{where}' has schema {repr(schema)[:80]}; this edgekd reads {', '.join(READABLE)}: "
            f"{why} rerun the pipeline to rebuild the report."
        )
    try:
        if schema == V1:
            data = v1_to_v2(data)
        if schema in (V1, V2):
            data = v2_to_v3(data)
        if schema in (V1, V2, V3):
            data = data | {"schema": SCHEMA}  # /4 only adds optional fields
    except (TypeError, ValueError, AttributeError):  # rows or targets of the wrong shape
        raise ArtifactError(
            f"'{where}' is not a valid {schema} report (its rows or targets have the wrong "
            "shape). It was edited or damaged; rerun the pipeline."
        ) from None
    try:
        return Report.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ArtifactError(
            f"'{where}' is not a valid {schema} report ({err.error_count()} problem(s); first "
            f"at {loc}: {first['msg']}). It was edited or damaged; rerun the pipeline."
        ) from None


def v1_to_v2(data: dict) -> dict:
    """Targets were a list of names; rows had no accuracy provenance or Pareto flag."""
    runtimes = {r.get("target"): r.get("runtime") for r in data.get("rows", [])}
    targets = {t: {"runtime": runtimes.get(t) or "?"} for t in data.get("targets", [])}
    rows = []
    for r in data.get("rows", []):
        measured = r.get("acc_artifact") is not None
        rows.append({"accuracy_source": "artifact" if measured else None, "pareto": False} | r)
    return data | {"schema": V2, "targets": targets, "rows": rows}


def v2_to_v3(data: dict) -> dict:
    """Rows become typed: `accuracy` always set where known, an unavailable layer profile is
    None instead of {"available": false, "reason": ...}."""
    rows = []
    for r in data.get("rows", []):
        r = dict(r)
        r.setdefault("accuracy", r.get("acc_artifact"))
        if isinstance(r.get("layers"), dict) and r["layers"].get("available") is False:
            r["layers"] = None
        rows.append(r)
    return data | {"schema": V3, "rows": rows}

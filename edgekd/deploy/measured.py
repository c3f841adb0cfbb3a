"""A bundle's measurements.json: what profiling found for exactly this artifact, and how.

It is written from the profile stage's record once that stage has run, so a bundle states
its accuracy, latency and memory with their provenance (where, when, on which CPU, with which
runtime versions and settings, measured or not). The bundle is then rewritten whole, and
this file is listed in its manifest like any other, so the figures are hash-checked too.
"""

from __future__ import annotations

MEASUREMENTS = "measurements.json"
SCHEMA = "edgekd.measurements/1"
FIGURES = ("load_ms", "first_inference_ms", "artifact_bytes", "threads", "source")
SECTIONS = ("latency", "throughput", "memory", "versions", "settings", "placement")


def measurements(profile, host: str) -> dict:
    """The figures of one profile stage (a StageResult), without raw samples."""
    info = profile.info
    out = {
        "schema": SCHEMA,
        "measured_at": profile.record.get("created"),
        "where": host,
        "profile_stage": profile.path.name,
        "accuracy": _accuracy(info),
    }
    out |= {k: info[k] for k in FIGURES if k in info}
    out |= {k: _small(info[k]) for k in SECTIONS if isinstance(info.get(k), dict)}
    env = info.get("environment") or {}
    out["host"] = {k: v for k, v in env.items() if k != "placement"}
    # the settings a tuner chose, whatever their record is called (issue 14 adds them)
    out |= {k: v for k, v in info.items() if k.startswith("tun") and _is_json_small(v)}
    return out


def _accuracy(info: dict) -> dict | None:
    acc = info.get("acc_artifact")
    if acc is None:
        return None
    confusion = info.get("confusion") or []
    n = sum(sum(row) for row in confusion) if confusion else None
    return {"top1": acc, "samples": n, "split": "test", "of": "this artifact, in its runtime"}


def _small(section: dict) -> dict:
    """A section without long lists (raw samples, per-round series stay in the stage)."""
    return {k: v for k, v in section.items() if not (isinstance(v, list) and len(v) > 32)}


def _is_json_small(value) -> bool:
    import json

    try:
        return len(json.dumps(value)) <= 4096
    except (TypeError, ValueError):
        return False

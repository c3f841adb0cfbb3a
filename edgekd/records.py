"""The enums that stage records, report rows and backends share.

String-valued, so report.json stays readable and old reports parse; compare with the enum
members, never with bare strings.
"""

from __future__ import annotations

from enum import Enum


class Role(str, Enum):
    TEACHER = "teacher"
    BASELINE = "baseline"  # a student trained from scratch on the labels, for comparison
    DISTILLED = "distilled"


class RowStatus(str, Enum):
    OK = "ok"  # compiled and measured (here or over SSH)
    ESTIMATED = "estimated"  # not measured: a labelled roofline estimate
    SKIPPED = "skipped"  # neither measured nor estimated; `reason` says why


class LatencySource(str, Enum):
    MEASURED_LOCAL = "measured-local"
    MEASURED_REMOTE = "measured-remote"
    ESTIMATED = "estimated"


class Gate(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    NOT_APPLICABLE = "n/a"  # the artifact was not run, so its accuracy is unknown


class AccuracySource(str, Enum):
    ARTIFACT = "artifact"  # the compiled artifact over the whole test split
    TORCH = "torch"  # the PyTorch model, where the artifact could not be run

"""Cross-modal distillation: the teacher reads one view of each sample, the student another.

The dataset supplies both views row by row (e.g. `mnist1d-pair`: the teacher sees the signal,
the student its FFT magnitude). The teacher is trained on its view; the student is distilled
on its own view from the teacher's outputs on the paired view, and is exported for that view.
"""

from __future__ import annotations

from torch import nn

from edgekd.distill.schemes import SCHEMES, DistillJob, Scheme
from edgekd.distill.schemes.offline import distill_loop
from edgekd.errors import ConfigError


@SCHEMES.register("cross-modal")
class CrossModal(Scheme):
    kind = "algorithm/cross-modal"
    description = "teacher and student read different views of the same samples (paired data)"
    paper = "Gupta, Hoffman, Malik. Cross Modal Distillation for Supervision Transfer. CVPR 2016"
    uses_transfer = False  # a transfer set has no teacher view

    @classmethod
    def check(cls, cfg, student, where: str) -> None:
        from edgekd.data import DATASETS

        if not DATASETS.get(cfg.data.dataset).paired:
            paired = [n for n, d in DATASETS.items() if d.paired]
            raise ConfigError(
                f"{where}: scheme 'cross-modal' needs a dataset with a teacher view and a "
                f"student view of each sample; '{cfg.data.dataset}' has one view. Paired "
                f"datasets: {', '.join(paired)}."
            )

    def run(self, job: DistillJob) -> nn.Module:
        tx = job.splits.x_teacher
        if tx is None:
            raise ConfigError("scheme 'cross-modal' got data without a teacher view.")
        job.info["views"] = {
            "teacher_input_shape": list(tx["train"].shape[1:]),
            "student_input_shape": list(job.splits.input_shape),
        }
        return distill_loop(job, job.teachers[0], teacher_x=tx["train"])

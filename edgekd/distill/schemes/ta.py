"""Teacher-assistant KD (TAKD): when teacher and student are far apart in size, distil
through a model in between: teacher -> assistant, then assistant -> student.

The assistant is the model the pipeline names (`model` and its `options`, e.g. the student's
family at a width or depth between the student's and the teacher's). Phase 1 trains it by
KD from the teacher and phase 2 the student by KD from it, both with the student's
distillation losses and training recipe, on the training split and the transfer inputs.
Each phase has its own checkpoint: phase 1's is kept until the stage is done, so a run
killed during phase 2 resumes there without training the assistant again. The assistant
is recorded in the stage info and dropped; the student is exported.
"""

from __future__ import annotations

import dataclasses
import shutil

import torch
from torch import nn

from edgekd.distill.schemes import SCHEMES, DistillJob, Scheme, check_response_only
from edgekd.distill.schemes.offline import distill_loop
from edgekd.distill.schemes.online import PeerSpec
from edgekd.distill.trainer import accuracy

ASSISTANT = "resume-assistant"  # phase 1's folder: resume-* survives a crash (StageStore)


class Options(PeerSpec):
    """The assistant: a registered `model` and its `options` (checked at load)."""


@SCHEMES.register("ta")
class TeacherAssistant(Scheme):
    Options = Options
    kind = "algorithm/assistant"
    examples = (
        {"model": "cnn1d", "options": {"channels": [12, 12]}},
        {"model": "mlp", "options": {"hidden": [24]}},
    )
    description = "teacher -> assistant -> student, for a large teacher-student capacity gap"
    paper = (
        "Mirzadeh, Farajtabar, Li, Levine, Matsukawa, Ghasemzadeh. Improved Knowledge "
        "Distillation via Teacher Assistant. AAAI 2020"
    )

    @classmethod
    def check(cls, cfg, student, where: str) -> None:
        check_response_only(student, where, "passes logits from model to model")

    def run(self, job: DistillJob) -> nn.Module:
        from edgekd.models import build_model, count_params

        opts: Options = job.options(type(self))
        shape, classes = job.splits.input_shape, job.splits.num_classes
        torch.manual_seed(job.seed * 1000 + 17)  # its own initialisation, the same on resume
        assistant = build_model(opts.model, opts.options, shape, classes)
        folder = job.workdir / ASSISTANT
        folder.mkdir(exist_ok=True)
        label = f"{job.label} (assistant)"
        phase1 = dataclasses.replace(job, student=assistant, workdir=folder, label=label, info={})
        distill_loop(phase1, job.teachers[0])  # once finished, it resumes with 0 epochs left
        sizes = [count_params(m) for m in (job.student, assistant, job.teachers[0])]
        x, y = job.splits.x["test"], job.splits.y["test"]
        job.info["assistant"] = {
            "model": opts.model,
            "options": opts.options.model_dump(),
            "params": sizes[1],
            "acc_test": accuracy(assistant, x, y, hw=job.hw, workers=job.splits.workers),
        }
        if not sizes[0] < sizes[1] < (sizes[2] or sizes[1] + 1):  # an ONNX teacher counts 0
            job.reporter.line(
                f"warning: {job.label}: the assistant ({sizes[1]:,} parameters) is not between "
                f"the student ({sizes[0]:,}) and the teacher ({sizes[2]:,}) in size"
            )
        distill_loop(job, assistant)
        shutil.rmtree(folder)  # its checkpoint served resumes; it is not an output
        return job.student

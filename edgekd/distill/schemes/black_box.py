"""Black-box distillation: only the teacher's outputs are used, never its weights or layers.

Made for a teacher given as an ONNX file (`teacher: {onnx: path}`) and run with ONNX Runtime,
so a teacher trained in any framework can teach; it works with a PyTorch teacher too. Only
response losses apply (kd, dkd, dist, ...): a black box has no feature taps.
"""

from __future__ import annotations

from torch import nn

from edgekd.distill.schemes import SCHEMES, DistillJob, Scheme, check_response_only
from edgekd.distill.schemes.offline import distill_loop


@SCHEMES.register("black-box")
class BlackBox(Scheme):
    kind = "algorithm/black-box"
    description = "response KD from a black-box teacher, e.g. an ONNX file run in ONNX Runtime"
    paper = "Hinton, Vinyals, Dean. Distilling the Knowledge in a Neural Network. 2015"

    @classmethod
    def check(cls, cfg, student, where: str) -> None:
        check_response_only(student, where, "sees only the teacher's outputs")

    def run(self, job: DistillJob) -> nn.Module:
        teacher = job.teachers[0]
        job.info["teacher_runtime"] = (
            "onnxruntime" if type(teacher).__name__ == "OnnxTeacher" else "pytorch"
        )
        return distill_loop(job, teacher)

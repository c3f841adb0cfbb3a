"""MobileNetV2 (Sandler et al. 2018) for 32x32 inputs, with a width multiplier.

Inverted residual blocks (expand 1x1, depthwise 3x3, project 1x1); the CIFAR form keeps the
stem and the second stage at stride 1. The KD benchmarks' "MobileNetV2" student is
width_mult 0.5 (CRD's mobile_half). 1-D or 2-D inputs.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from edgekd.models import MODELS, ModelFamily, Width, bn_nd, conv_nd, need_rank

# expansion t, channels c, repeats n, stride s (CIFAR: stride 1 in the first two stages)
SETTINGS = [
    (1, 16, 1, 1),
    (6, 24, 2, 1),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    width_mult: float = Field(1.0, gt=0, le=16)
    expansion: int = Field(6, ge=1, le=64)  # t of every stage after the first
    last_channels: Width = 1280


def _ch(c: float) -> int:
    return max(8, int(c + 4) // 8 * 8)  # round to a multiple of 8, as the reference does


class InvertedResidual(nn.Module):
    def __init__(self, dims: int, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        conv, bn, hidden = conv_nd(dims), bn_nd(dims), cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [conv(cin, hidden, 1, bias=False), bn(hidden), nn.ReLU6()]
        layers += [
            conv(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            bn(hidden),
            nn.ReLU6(),
            conv(hidden, cout, 1, bias=False),
            bn(cout),
        ]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.conv(x) if self.residual else self.conv(x)


class MobileNetV2Net(nn.Module):
    def __init__(self, dims: int, in_ch: int, opts: Options, num_classes: int):
        super().__init__()
        conv, bn = conv_nd(dims), bn_nd(dims)
        cin = _ch(32 * opts.width_mult)
        self.stem = nn.Sequential(conv(in_ch, cin, 3, 1, 1, bias=False), bn(cin), nn.ReLU6())
        for i, (t, c, n, s) in enumerate(SETTINGS):
            t = t if i == 0 else opts.expansion
            cout, blocks = _ch(c * opts.width_mult), []
            for j in range(n):
                blocks.append(InvertedResidual(dims, cin, cout, s if j == 0 else 1, t))
                cin = cout
            setattr(self, f"stage{i}", nn.Sequential(*blocks))
        last = _ch(opts.last_channels * max(1.0, opts.width_mult))
        self.head = nn.Sequential(conv(cin, last, 1, bias=False), bn(last), nn.ReLU6())
        self.pool = nn.AdaptiveAvgPool1d(1) if dims == 1 else nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(last, num_classes)

    def forward(self, x):
        x = self.stem(x)
        for i in range(len(SETTINGS)):
            x = getattr(self, f"stage{i}")(x)
        return self.fc(self.pool(self.head(x)).flatten(1))


@MODELS.register("mobilenetv2")
class MobileNetV2(ModelFamily):
    Options = Options
    description = "MobileNetV2 for CIFAR-size inputs (width_mult knob; 0.5 = KD benchmarks)"
    examples = ({"width_mult": 0.25, "last_channels": 32},)
    example_shapes = ((3, 8, 8), (1, 16))

    @staticmethod
    def check_input(options: Options, input_shape, where: str) -> None:
        what = "model 'mobilenetv2' reads (channels, length) or (channels, height, width) samples"
        need_rank(input_shape, (2, 3), what, where)

    @staticmethod
    def build(options: Options, input_shape, num_classes: int) -> nn.Module:
        return MobileNetV2Net(len(input_shape) - 1, input_shape[0], options, num_classes)

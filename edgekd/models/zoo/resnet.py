"""CIFAR-style ResNets (He et al. 2016, section 4.2): depth 6n+2, three stages of BasicBlocks.

`depth` 8/20/32/56 and `width` 16 give resnet8/20/32/56; width 64 with `width_mult` 4 gives
the resnet8x4/32x4 of the KD benchmarks. Works on 1-D (C, L) and 2-D (C, H, W) inputs.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch import nn

from edgekd.models import MODELS, ModelFamily, Width, bn_nd, conv_nd, need_rank


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    depth: int = Field(20, ge=8, le=1202)
    width: Width = 16
    width_mult: list[Annotated[int, Field(ge=1, le=64)]] = Field(
        default_factory=lambda: [1, 2, 4], min_length=3, max_length=3
    )

    @field_validator("depth")
    @classmethod
    def _depth(cls, v: int) -> int:
        if (v - 2) % 6:
            raise ValueError("depth must be 6n+2 (8, 14, 20, 32, 44, 56, 110)")
        return v


class BasicBlock(nn.Module):
    def __init__(self, dims: int, cin: int, cout: int, stride: int):
        super().__init__()
        conv, bn = conv_nd(dims), bn_nd(dims)
        self.conv1 = conv(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = bn(cout)
        self.conv2 = conv(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = bn(cout)
        self.relu = nn.ReLU()
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(conv(cin, cout, 1, stride, bias=False), bn(cout))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNetCifar(nn.Module):
    def __init__(self, dims: int, in_ch: int, opts: Options, num_classes: int):
        super().__init__()
        n = (opts.depth - 2) // 6
        conv, bn = conv_nd(dims), bn_nd(dims)
        widths = [opts.width * m for m in opts.width_mult]
        self.conv1 = conv(in_ch, opts.width, 3, 1, 1, bias=False)
        self.bn1 = bn(opts.width)
        self.relu = nn.ReLU()
        cin = opts.width
        for i, (w, stride) in enumerate(zip(widths, (1, 2, 2)), start=1):
            blocks = []
            for j in range(n):
                blocks.append(BasicBlock(dims, cin, w, stride if j == 0 else 1))
                cin = w
            setattr(self, f"layer{i}", nn.Sequential(*blocks))
        self.pool = nn.AdaptiveAvgPool1d(1) if dims == 1 else nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d)):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.pool(x).flatten(1))


@MODELS.register("resnet")
class ResNet(ModelFamily):
    Options = Options
    description = "CIFAR-style ResNet (depth 6n+2, width knobs); 1-D or 2-D inputs"
    examples = ({"depth": 8, "width": 4},)
    example_shapes = ((3, 8, 8), (1, 16))

    @staticmethod
    def check_input(options: Options, input_shape, where: str) -> None:
        what = "model 'resnet' reads (channels, length) or (channels, height, width) samples"
        need_rank(input_shape, (2, 3), what, where)

    @staticmethod
    def build(options: Options, input_shape, num_classes: int) -> nn.Module:
        return ResNetCifar(len(input_shape) - 1, input_shape[0], options, num_classes)

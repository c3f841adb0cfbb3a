"""VGG with batch norm, in the CIFAR form of the KD benchmarks (CRD, mdistiller): vgg8/11/13.

Five stages of 3x3 conv-BN-ReLU; max pooling after the first four, global average pooling
after the last; one linear classifier. `width` scales every stage (64 -> 128 -> 256 -> 512).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict
from torch import nn

from edgekd.models import MODELS, ModelFamily, Width, bn_nd, conv_nd, need_rank

STAGES = {  # convs per stage, in units of `width` x (1, 2, 4, 8, 8)
    8: [1, 1, 1, 1, 1],
    11: [1, 1, 2, 2, 2],
    13: [2, 2, 2, 2, 2],
    16: [2, 2, 3, 3, 3],
    19: [2, 2, 4, 4, 4],
}


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    depth: Literal[8, 11, 13, 16, 19] = 13
    width: Width = 64


class VGGNet(nn.Module):
    def __init__(self, dims: int, in_ch: int, opts: Options, num_classes: int):
        super().__init__()
        conv, bn = conv_nd(dims), bn_nd(dims)
        maxpool = nn.MaxPool1d if dims == 1 else nn.MaxPool2d
        cin = in_ch
        for i, (convs, mult) in enumerate(zip(STAGES[opts.depth], (1, 2, 4, 8, 8))):
            width, layers = opts.width * mult, []
            for _ in range(convs):
                layers += [conv(cin, width, 3, 1, 1), bn(width), nn.ReLU()]
                cin = width
            layers.append(maxpool(2, ceil_mode=True) if i < 4 else nn.Identity())
            setattr(self, f"block{i}", nn.Sequential(*layers))
        self.pool = nn.AdaptiveAvgPool1d(1) if dims == 1 else nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        for i in range(5):
            x = getattr(self, f"block{i}")(x)
        return self.fc(self.pool(x).flatten(1))


@MODELS.register("vgg")
class VGG(ModelFamily):
    Options = Options
    description = "VGG-BN for CIFAR (vgg8/11/13/16/19 via depth, width knob); 1-D or 2-D"
    examples = ({"depth": 8, "width": 4},)
    example_shapes = ((3, 8, 8), (1, 16))

    @staticmethod
    def check_input(options: Options, input_shape, where: str) -> None:
        what = "model 'vgg' reads (channels, length) or (channels, height, width) samples"
        need_rank(input_shape, (2, 3), what, where)

    @staticmethod
    def build(options: Options, input_shape, num_classes: int) -> nn.Module:
        return VGGNet(len(input_shape) - 1, input_shape[0], options, num_classes)

"""Wide ResNets (Zagoruyko & Komodakis 2016) as in the CIFAR KD benchmarks: WRN-d-k.

`depth` 6n+4 and `widen_factor` k: wrn_16_2 is depth 16, k 2; wrn_40_2 is depth 40, k 2.
Pre-activation basic blocks; optional dropout between the convolutions. 1-D or 2-D inputs.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch import nn

from edgekd.models import MODELS, ModelFamily, bn_nd, conv_nd, need_rank


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    depth: int = Field(16, ge=10, le=1000)
    widen_factor: int = Field(2, ge=1, le=64)
    dropout: float = Field(0.0, ge=0, lt=1)

    @field_validator("depth")
    @classmethod
    def _depth(cls, v: int) -> int:
        if (v - 4) % 6:
            raise ValueError("depth must be 6n+4 (10, 16, 22, 28, 40)")
        return v


class WideBlock(nn.Module):
    def __init__(self, dims: int, cin: int, cout: int, stride: int, dropout: float):
        super().__init__()
        conv, bn = conv_nd(dims), bn_nd(dims)
        self.bn1, self.relu1 = bn(cin), nn.ReLU()
        self.conv1 = conv(cin, cout, 3, stride, 1, bias=False)
        self.bn2, self.relu2 = bn(cout), nn.ReLU()
        self.drop = nn.Dropout(dropout) if dropout else nn.Identity()
        self.conv2 = conv(cout, cout, 3, 1, 1, bias=False)
        self.equal = cin == cout and stride == 1
        self.shortcut = None if self.equal else conv(cin, cout, 1, stride, bias=False)

    def forward(self, x):
        act = self.relu1(self.bn1(x))
        out = self.conv2(self.drop(self.relu2(self.bn2(self.conv1(act)))))
        return out + (x if self.equal else self.shortcut(act))


class WideResNet(nn.Module):
    def __init__(self, dims: int, in_ch: int, opts: Options, num_classes: int):
        super().__init__()
        n, k = (opts.depth - 4) // 6, opts.widen_factor
        widths = [16, 16 * k, 32 * k, 64 * k]
        conv, bn = conv_nd(dims), bn_nd(dims)
        self.conv1 = conv(in_ch, widths[0], 3, 1, 1, bias=False)
        cin = widths[0]
        for i, (w, stride) in enumerate(zip(widths[1:], (1, 2, 2)), start=1):
            blocks = [
                WideBlock(dims, cin if j == 0 else w, w, stride if j == 0 else 1, opts.dropout)
                for j in range(n)
            ]
            setattr(self, f"block{i}", nn.Sequential(*blocks))
            cin = w
        self.bn, self.relu = bn(cin), nn.ReLU()
        self.pool = nn.AdaptiveAvgPool1d(1) if dims == 1 else nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d)):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.block3(self.block2(self.block1(self.conv1(x))))
        return self.fc(self.pool(self.relu(self.bn(x))).flatten(1))


@MODELS.register("wrn")
class WRN(ModelFamily):
    Options = Options
    description = "Wide ResNet WRN-depth-k (wrn_16_2, wrn_40_2, ...); 1-D or 2-D inputs"
    examples = ({"depth": 10, "widen_factor": 1},)
    example_shapes = ((3, 8, 8), (1, 16))

    @staticmethod
    def check_input(options: Options, input_shape, where: str) -> None:
        what = "model 'wrn' reads (channels, length) or (channels, height, width) samples"
        need_rank(input_shape, (2, 3), what, where)

    @staticmethod
    def build(options: Options, input_shape, num_classes: int) -> nn.Module:
        return WideResNet(len(input_shape) - 1, input_shape[0], options, num_classes)

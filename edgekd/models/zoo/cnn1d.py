"""A small 1-D convolutional network for sequence data such as MNIST-1D."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from edgekd.models import MAX_LAYERS, MODELS, ModelFamily, Width, need_rank


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    channels: list[Width] = Field(
        default_factory=lambda: [32, 32, 32], min_length=1, max_length=MAX_LAYERS
    )
    kernel_size: int = Field(5, ge=1, le=255)
    stride: int = Field(2, ge=1, le=64)
    batchnorm: bool = True


class CNN1DNet(nn.Module):
    def __init__(self, in_ch: int, length: int, opts: Options, num_classes: int):
        super().__init__()
        blocks: list[nn.Module] = []
        width = in_ch
        for ch in opts.channels:
            block = [nn.Conv1d(width, ch, opts.kernel_size, opts.stride, opts.kernel_size // 2)]
            if opts.batchnorm:
                block.append(nn.BatchNorm1d(ch))
            block.append(nn.ReLU())
            blocks.append(nn.Sequential(*block))
            width = ch
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.fc(self.pool(self.features(x)).flatten(1))


@MODELS.register("cnn1d")
class CNN1D(ModelFamily):
    Options = Options
    description = "1-D conv net (conv-bn-relu blocks, global pooling); knobs: channels, kernel"
    examples = ({"channels": [4, 4]}, {"channels": [4], "batchnorm": False, "kernel_size": 3})
    example_shapes = ((1, 40), (2, 9))

    @staticmethod
    def check_input(options: Options, input_shape, where: str) -> None:
        need_rank(input_shape, (2,), "model 'cnn1d' reads (channels, length) samples", where)

    @staticmethod
    def build(options: Options, input_shape, num_classes: int) -> nn.Module:
        return CNN1DNet(input_shape[0], input_shape[1], options, num_classes)

"""A plain multi-layer perceptron over the flattened input."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from edgekd.models import MAX_LAYERS, MODELS, ModelFamily, Width, need_rank


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    hidden: list[Width] = Field(
        default_factory=lambda: [100, 100], min_length=1, max_length=MAX_LAYERS
    )
    dropout: float = Field(0.0, ge=0, lt=1)


class MLPNet(nn.Module):
    def __init__(self, in_features: int, hidden: list[int], num_classes: int, dropout: float):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = h
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.fc(self.features(x))


@MODELS.register("mlp")
class MLP(ModelFamily):
    Options = Options
    description = "multi-layer perceptron over the flattened input; knobs: hidden, dropout"
    examples = ({"hidden": [8]}, {"hidden": [8, 4], "dropout": 0.1})
    example_shapes = ((7,), (1, 40), (3, 4, 4))

    @staticmethod
    def check_input(options: Options, input_shape, where: str) -> None:
        need_rank(input_shape, None, "model 'mlp' reads non-empty samples (flattened)", where)

    @staticmethod
    def build(options: Options, input_shape, num_classes: int) -> nn.Module:
        return MLPNet(math.prod(input_shape), options.hidden, num_classes, options.dropout)

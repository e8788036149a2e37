"""VGG-16 (configuration "D", no batch norm), layer for layer as ``torchvision.models.vgg16``.

138,357,544 parameters at 1000 classes. The 7x7 adaptive average pool lets any
image_size >= 32 run, and export: where the legacy ONNX exporter cannot lower
``nn.AdaptiveAvgPool2d`` (the last map is not a multiple of 7, i.e. image_size
outside 224..255, 448..479, ...), the zoo's subclass exports it as two MatMuls
(see ``_layers.AdaptiveAvgPool2d``).
"""

from __future__ import annotations

from typing import Sequence, Union

import torch
from torch import Tensor, nn

from ..errors import JiasuError
from ._layers import AdaptiveAvgPool2d

# Output channels of each 3x3 conv; "M" is a 2x2/2 max-pool.
CONFIGS: dict[str, list[Union[int, str]]] = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}

MIN_IMAGE_SIZE = 32  # five 2x2 pools


def make_features(config: Sequence[Union[int, str]], in_channels: int) -> nn.Sequential:
    """The convolutional trunk: 3x3/1 pad-1 convs with ReLU, and the max-pools of ``config``."""
    layers: list[nn.Module] = []
    channels = in_channels
    for item in config:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, int(item), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = int(item)
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """``forward`` maps (N, C, S, S) images to (N, num_classes) logits."""

    def __init__(self, features: nn.Sequential, num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = features
        self.avgpool = AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        # torchvision's initialisation.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def vgg16(num_classes: int = 1000, image_size: int = 224, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """Build VGG-16 with torchvision's initialisation.

    Options:
        num_classes: logits of the last Linear (1000).
        image_size: side of the square input (224); must be >= 32. The network
            runs and exports at any such size.
        in_channels: input channels (3).
        dropout: dropout probability in the classifier (0.5); the identity in eval mode.
    """
    if image_size < MIN_IMAGE_SIZE:
        raise JiasuError(f"vgg16 needs image_size >= {MIN_IMAGE_SIZE}, got {image_size}.")
    return VGG(make_features(CONFIGS["vgg16"], in_channels), num_classes, dropout)
